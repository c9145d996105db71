"""medlib.ct.fbp (chapters/ct/fbp.ipynb) against scikit-image's iradon, direct convolution, SciPy
quadrature and closed forms."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import bad_input_test, rel_rms
from scipy import integrate
from skimage.transform import iradon
from skimage.transform import radon as sk_radon

from medlib import ct, phantoms

fbp_module = sys.modules["medlib.ct.fbp"]





@pytest.mark.formula("ct.fbp")
@pytest.mark.parametrize("n", [63, 64])
def test_fbp_matches_iradon_for_odd_and_even_sizes(n):
    image = phantoms.shepp_logan(n)
    theta = np.linspace(0, np.pi, 90, endpoint=False)
    sino = sk_radon(image, np.rad2deg(theta))
    assert rel_rms(ct.radon(image, theta), sino) < 0.01
    inside = ct.circle_mask(n)
    ours = ct.fbp(sino, theta)
    theirs = iradon(sino, np.rad2deg(theta))
    assert rel_rms(ours[inside], theirs[inside]) < 0.02


@pytest.mark.formula("ct.ramp-kernel")
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 10])
def test_ramp_kernel_is_the_inverse_fourier_transform_of_the_band_limited_ramp(n):
    value, _ = integrate.quad(lambda f: 2 * f * np.cos(2 * np.pi * f * n), 0.0, 0.5, limit=200)
    assert ct.ramp_kernel([n])[0] == pytest.approx(value, abs=1e-12)
    assert ct.ramp_kernel([-n])[0] == ct.ramp_kernel([n])[0]


@pytest.mark.formula("ct.ramp-filter")
def test_discrete_ramp_is_abs_f_with_a_small_positive_dc_term():
    f, h = ct.filter_response(1024, "ramp")
    assert f[0] == 0 and f[-1] == 0.5 and h.shape == (513,)
    odd = np.arange(1, 512, 2)
    assert h[0] == pytest.approx(0.25 - 2 * np.sum(1 / (np.pi * odd) ** 2), rel=1e-9)
    assert h[0] > 0
    middle = (f > 0.02) & (f < 0.48)
    np.testing.assert_allclose(h[middle], f[middle], atol=2e-3)
    np.testing.assert_array_equal(ct.filter_response(1024, "ram-lak")[1], h)


@pytest.mark.formula("ct.ramp-windowed")
def test_windows_at_zero_and_at_the_cutoff():
    f, ramp = ct.filter_response(512, "ramp")
    expected_at_nyquist = {"shepp-logan": 2 / np.pi, "cosine": 0.0, "hamming": 0.08,
                           "hann": 0.0}
    for name, factor in expected_at_nyquist.items():
        _, h = ct.filter_response(512, name)
        assert h[0] == pytest.approx(ramp[0])
        assert h[-1] == pytest.approx(factor * ramp[-1], abs=1e-12)
        assert np.all(h <= ramp + 1e-15)
    _, half = ct.filter_response(512, "hann", cutoff=0.5)
    assert np.all(half[f > 0.25] == 0) and half[1] == pytest.approx(ramp[1], rel=1e-3)


@pytest.mark.formula("ct.filtering")
def test_fft_filtering_equals_direct_convolution_with_the_ramp_kernel(rng):
    sino = rng.normal(size=(40, 3))
    lags = np.arange(-39, 40)
    kernel = ct.ramp_kernel(lags)
    direct = np.stack([np.convolve(col, kernel, mode="full")[39:79] for col in sino.T], axis=1)
    np.testing.assert_allclose(ct.filter_sinogram(sino, "ramp"), direct, atol=1e-12)


@pytest.mark.formula("ct.backprojection")
def test_backprojection_is_twice_iradon_without_filter(rng, angles180):
    sino = rng.uniform(0, 1, size=(64, 180))
    ours = ct.backproject(sino, angles180)
    # scikit-image's unfiltered iradon weights each angle by pi / (2 n_angles), ours by
    # pi / n_angles (the integral over [0, pi)): a factor of 2, nothing else.
    theirs = iradon(sino, np.rad2deg(angles180), filter_name=None)
    inside = ct.circle_mask(64)
    np.testing.assert_allclose(ours[inside], 2 * theirs[inside], rtol=2e-3, atol=2e-3)
    assert np.all(ours[~inside] == 0)


@pytest.mark.formula("ct.backprojection-blur")
def test_unfiltered_backprojection_of_a_point_falls_as_one_over_r():
    n = 128
    image = np.zeros((n, n))
    image[n // 2, n // 2] = 1.0
    theta = np.linspace(0, np.pi, 720, endpoint=False)
    blurred = ct.backproject(ct.radon(image, theta), theta)
    r = np.array([6, 10, 20, 35, 50])
    along_row = blurred[n // 2, n // 2 + r]
    along_diag = blurred[n // 2 - (r / np.sqrt(2)).round().astype(int),
                         n // 2 + (r / np.sqrt(2)).round().astype(int)]
    np.testing.assert_allclose(along_row, 1 / r, rtol=0.05)
    r_diag = np.hypot(*(2 * [(r / np.sqrt(2)).round()]))
    np.testing.assert_allclose(along_diag, 1 / r_diag, rtol=0.05)


@pytest.mark.formula("ct.fbp")
def test_fbp_of_shepp_logan_is_as_accurate_as_iradon(angles180):
    n = 256
    image = phantoms.shepp_logan(n)
    inside = ct.circle_mask(n)
    sino = sk_radon(image, np.rad2deg(angles180))
    ours = ct.fbp(sino, angles180)
    theirs = iradon(sino, np.rad2deg(angles180))
    rmse = np.sqrt(np.mean((ours - image)[inside] ** 2))
    rmse_sk = np.sqrt(np.mean((theirs - image)[inside] ** 2))
    assert rmse <= 1.01 * rmse_sk
    assert rel_rms(ours[inside], theirs[inside]) < 0.01
    own = ct.fbp(ct.radon(image, angles180), angles180)
    assert np.sqrt(np.mean((own - image)[inside] ** 2)) <= 1.01 * rmse_sk


@pytest.mark.formula("ct.fbp", "ct.ramp-windowed")
@pytest.mark.parametrize("name", ["shepp-logan", "cosine", "hamming", "hann"])
def test_fbp_with_windowed_filters_matches_iradon(name, shepp128, angles180):
    sino = sk_radon(shepp128, np.rad2deg(angles180))
    inside = ct.circle_mask(128)
    ours = ct.fbp(sino, angles180, name)
    theirs = iradon(sino, np.rad2deg(angles180), filter_name=name)
    assert rel_rms(ours[inside], theirs[inside]) < 0.01


@pytest.mark.formula("ct.radon-inverse")
def test_fbp_inverts_radon_with_the_right_amplitude():
    # A uniform disc of value 0.7: FBP must return 0.7 inside (no stray 2 pi or 1/2).
    table = [[0.7, 0.6, 0.6, 0.0, 0.0, 0.0]]
    theta = np.linspace(0, np.pi, 360, endpoint=False)
    sino = ct.radon_ellipses(table, theta, 128)
    rec = ct.fbp(sino, theta)
    r = np.hypot(*np.mgrid[-64:64, -64:64])
    assert np.mean(rec[r < 30]) == pytest.approx(0.7, rel=0.005)
    assert abs(np.mean(rec[(r > 45) & (r < 60)])) < 0.005


@pytest.mark.parametrize("n_angles", [24, 48])
def test_streaks_of_a_point_reach_full_strength_where_rays_are_two_bins_apart(n_angles):
    # With N angles, neighbouring rays are r pi / N bins apart at a distance r from a point;
    # its streaks (the error against many angles) stay below 0.4 of one ray's value
    # pi h(0) / N inside r = N / pi and are full from r = 2 N / pi: the reason for the rule
    # N_theta >= pi N / 2 (full streaks beyond the field's diameter).
    n = 128
    c = n // 2
    point = np.zeros((n, n))
    point[c, c] = 1.0
    dense = np.linspace(0, np.pi, 1024, endpoint=False)
    theta = np.linspace(0, np.pi, n_angles, endpoint=False)
    error = np.abs(ct.fbp(ct.radon(point, theta), theta) - ct.fbp(ct.radon(point, dense), dense))
    ring = np.rint(np.hypot(*np.mgrid[-c:n - c, -c:n - c])).astype(int)
    largest = np.zeros(ring.max() + 1)
    np.maximum.at(largest, ring, error)
    profile = largest[:c] / (np.pi * 0.25 / n_angles)
    full = 2 * n_angles / np.pi
    assert profile[1:int(n_angles / np.pi)].max() < 0.4
    assert abs(np.flatnonzero(profile >= 0.9)[0] - full) <= 0.05 * full + 1
    assert profile[int(np.ceil(full)):].min() > 0.85


def test_fbp_accepts_a_full_rotation():
    theta = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    sino = ct.radon_ellipses([[1.0, 0.5, 0.5, 0.0, 0.0, 0.0]], theta, 64)
    rec = ct.fbp(sino, theta)
    r = np.hypot(*np.mgrid[-32:32, -32:32])
    assert np.mean(rec[r < 10]) == pytest.approx(1.0, rel=0.01)



# --------------------------------------------------------------------------------- bad input

# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (ct.fbp, (np.ones((8, 180)), np.arange(180.0)), {}, ValueError,
     r"theta spans 179 rad.*look like degrees.*np\.deg2rad"),
    (ct.backproject, (np.ones((8, 3)), [0.0, 90.0, 180.0]), {}, ValueError, "degrees"),
    (ct.filter_response, (2**40,), {}, ValueError, "^n_padded asks for an array"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


def test_fbp_accepts_a_full_rotation_in_radians():
    theta = np.linspace(0.0, 2 * np.pi, 8)          # endpoint included: exactly 2 pi
    assert ct.fbp(np.zeros((8, 8)), theta).shape == (8, 8)


BAD_CALLS = [
    (ct.fbp, (np.zeros((8, 3)), [0.0, 1.0]), {}, ValueError, "theta has 2 angles"),
    (ct.fbp, (np.zeros((8, 3)), [0.0, 1.0, 2.0], "ramp-lak"), {}, ValueError, "filter_name"),
    (ct.fbp, (np.zeros(8), [0.0]), {}, ValueError, "sinogram"),
    (ct.fbp, (np.zeros((8, 1)), [0.0]), {"cutoff": 0.0}, ValueError, "cutoff"),
    (ct.filter_sinogram, (np.zeros((8, 1)),), {"cutoff": 1.5}, ValueError, "cutoff"),
    (ct.backproject, (np.zeros((8, 2)), [0.0]), {}, ValueError, "theta"),
    (ct.filter_response, (63,), {}, ValueError, "even"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_a_valid_call_next_to_the_bad_ones_runs():
    f, h = ct.filter_response(64, "hann")
    assert f.shape == h.shape == (33,)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, shepp128):
    theta = np.linspace(0, np.pi, 10, endpoint=False)
    sino = ct.radon(shepp128, theta)
    assert_inputs_unchanged(ct.fbp, sino, theta, "hann", cutoff=0.8)
    assert_inputs_unchanged(ct.backproject, sino, theta)
    assert_inputs_unchanged(ct.filter_sinogram, sino, "cosine")
    assert_inputs_unchanged(ct.ramp_kernel, np.arange(-5, 6))


def test_ct_fbp_is_the_function_not_its_module():
    assert callable(ct.fbp) and ct.fbp is fbp_module.fbp


def test_the_package_re_exports_every_name_of_the_module():
    # ``from medlib import ct; ct.<name>`` is the object defined in medlib/ct/fbp.py.
    for name in fbp_module.__all__:
        assert getattr(ct, name) is getattr(fbp_module, name), name
    assert set(fbp_module.__all__) <= set(ct.__all__)
