"""medlib.ct.fan_beam (chapters/ct/fan-beam.ipynb) against closed forms (the projections of an
ellipse, the source geometry), scikit-image's parallel-beam radon and iradon, and the
parallel-beam reconstruction of the rebinned data."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy import ndimage
from skimage.transform import iradon
from skimage.transform import radon as sk_radon

from medlib import ct, phantoms

N = 64
D = 2.4 * N / 2


def fan_grid(n_beta=360, n=N, d=D, fine=1.0):
    gm = np.arcsin((n / 2 + 1) / d)
    alpha = fine / d
    k = int(np.ceil(gm / alpha)) + 1
    return np.arange(n_beta) * 2 * np.pi / n_beta, np.arange(-k, k + 1) * alpha


def ellipse_line_integral(theta, t, a, b, x0, y0, alpha):
    # Kak & Slaney eq. 3.41 for an ellipse of value 1, in pixel units (independent of medlib).
    tau = t - x0 * np.cos(theta) - y0 * np.sin(theta)
    s2 = a**2 * np.cos(theta - alpha) ** 2 + b**2 * np.sin(theta - alpha) ** 2
    return np.where(tau**2 < s2, 2 * a * b * np.sqrt(np.clip(s2 - tau**2, 0, None)) / s2, 0.0)


@pytest.fixture(scope="module")
def smooth_head():
    return ndimage.gaussian_filter(phantoms.shepp_logan(N), 1.5) * ct.circle_mask(N)


@pytest.mark.formula("ct.fan-parallel")
def test_every_ray_of_a_view_passes_through_the_source():
    beta = np.array([0.3, 2.0, 4.5])[None, :]
    gamma = np.linspace(-0.4, 0.4, 9)[:, None]
    theta, t = ct.fan_to_parallel(beta, gamma, 150.0)
    source = 150.0 * np.stack([-np.sin(beta), np.cos(beta)])
    assert np.allclose(source[0] * np.cos(theta) + source[1] * np.sin(theta), t)
    assert np.allclose(theta[4], beta[0]) and np.allclose(t[4], 0)   # the central ray


@pytest.mark.formula("ct.fan-parallel")
def test_fan_projection_of_an_ellipse_matches_the_closed_form():
    a, b, x0, y0, ang = 14.0, 9.0, 6.0, -4.0, 0.5
    rows, cols = np.mgrid[:N, :N]
    x, y = cols - N // 2, N // 2 - rows
    # Supersampled rasterisation so that the pixel image is close to the ellipse.
    fine = np.zeros((N, N))
    for dy in np.linspace(-0.375, 0.375, 4):
        for dx in np.linspace(-0.375, 0.375, 4):
            u = (x + dx - x0) * np.cos(ang) + (y + dy - y0) * np.sin(ang)
            v = -(x + dx - x0) * np.sin(ang) + (y + dy - y0) * np.cos(ang)
            fine += ((u / a) ** 2 + (v / b) ** 2 <= 1) / 16
    beta, gamma = fan_grid(24)
    fan = ct.fan_beam_projection(fine, beta, gamma, D, step=0.25)
    theta, t = ct.fan_to_parallel(beta[None, :], gamma[:, None], D)
    exact = ellipse_line_integral(theta, t, a, b, x0, y0, ang)
    assert np.sqrt(np.mean((fan - exact) ** 2)) < 0.01 * exact.max() * 2
    assert np.abs(fan.sum() / exact.sum() - 1) < 0.01


def test_a_distant_source_gives_scikit_image_radon(smooth_head):
    theta = np.linspace(0, np.pi, 12, endpoint=False)
    d = 1e6
    gamma = (np.arange(N) - N // 2) / d
    fan = ct.fan_beam_projection(smooth_head, theta, gamma, d, step=0.25)
    ref = sk_radon(smooth_head, np.rad2deg(theta), circle=True)
    assert np.sqrt(np.mean((fan - ref) ** 2)) < 0.01 * np.sqrt(np.mean(ref**2))


def test_rebinning_reproduces_the_parallel_sinogram(smooth_head):
    beta, gamma = fan_grid(720)
    fan = ct.fan_beam_projection(smooth_head, beta, gamma, D, step=0.5)
    theta = np.linspace(0, np.pi, 180, endpoint=False)
    par = ct.rebin_to_parallel(fan, beta, gamma, D, theta, N)
    ref = sk_radon(smooth_head, np.rad2deg(theta), circle=True)
    assert np.sqrt(np.mean((par - ref) ** 2)) < 0.01 * np.sqrt(np.mean(ref**2))


@pytest.fixture(scope="module")
def full_scan(smooth_head):
    beta, gamma = fan_grid(720)
    return beta, gamma, ct.fan_beam_projection(smooth_head, beta, gamma, D, step=0.5)


def _rel(a, b, fov):
    return np.sqrt(np.mean((a - b)[fov] ** 2)) / np.sqrt(np.mean(b[fov] ** 2))


@pytest.mark.formula("ct.fan-fbp")
def test_fan_fbp_agrees_with_parallel_fbp_of_the_rebinned_data(full_scan, smooth_head):
    beta, gamma, fan = full_scan
    theta = np.linspace(0, np.pi, 360, endpoint=False)
    parallel = iradon(ct.rebin_to_parallel(fan, beta, gamma, D, theta, N), np.rad2deg(theta),
                      circle=True)
    direct = ct.fan_beam_fbp(fan, beta, gamma, D, N)
    r = np.hypot(*np.mgrid[-(N // 2):N - N // 2, -(N // 2):N - N // 2])
    fov = r <= N // 2 - 2
    assert _rel(direct, parallel, fov) < 0.01
    assert _rel(direct, smooth_head, fov) < 0.03


@pytest.mark.formula("ct.fan-fbp")
def test_fan_fbp_of_a_disc_has_the_right_value():
    disc = 0.7 * (np.hypot(*np.mgrid[-(N // 2):N - N // 2, -(N // 2):N - N // 2]) < 20)
    beta, gamma = fan_grid(360)
    fan = ct.fan_beam_projection(disc.astype(float), beta, gamma, D)
    rec = ct.fan_beam_fbp(fan, beta, gamma, D, N)
    r = np.hypot(*np.mgrid[-(N // 2):N - N // 2, -(N // 2):N - N // 2])
    assert rec[r < 15].mean() == pytest.approx(0.7, rel=0.01)
    assert abs(rec[(r > 24) & (r < 30)].mean()) < 0.01


@pytest.mark.formula("ct.parker-weights")
def test_parker_weights_of_a_line_and_its_reversal_add_to_one():
    gamma = np.linspace(-0.4, 0.4, 41)[1:-1]     # the edge rays have weight 0 at both ends
    beta = np.linspace(0, np.pi + 0.8, 300)
    w = ct.parker_weights(beta, gamma, 0.4)
    assert w.min() >= 0 and w.max() <= 1
    # The same line: (beta, gamma) and (beta + pi + 2 gamma, -gamma).
    b2 = beta[None, :] + np.pi + 2 * gamma[:, None]
    partner = np.array([ct.parker_weights(b2[i], -gamma[[i]], 0.4)[0]
                        for i in range(gamma.size)])
    inside = b2 <= np.pi + 0.8
    assert np.allclose((w + partner)[inside], 1.0, atol=1e-12)
    # Weight 1 from 4 gamma_m to pi - 2 gamma_m for every ray.
    assert np.allclose(w[:, (beta > 1.6) & (beta < np.pi - 0.8)], 1.0)


@pytest.mark.formula("ct.parker-weights")
def test_short_scan_reconstruction_matches_the_full_scan(full_scan):
    beta, gamma, fan = full_scan
    full = ct.fan_beam_fbp(fan, beta, gamma, D, N)
    count = int(np.ceil((np.pi + 2 * gamma.max()) / (beta[1] - beta[0]))) + 1
    short = ct.fan_beam_fbp(fan[:, :count], beta[:count], gamma, D, N,
                            redundancy_weights=ct.parker_weights(beta[:count], gamma))
    fov = ct.circle_mask(N)
    assert _rel(short, full, fov) < 0.02
    unweighted = ct.fan_beam_fbp(fan[:, :count], beta[:count], gamma, D, N,
                                 redundancy_weights=np.ones((gamma.size, count)))
    assert _rel(unweighted, full, fov) > 3 * _rel(short, full, fov)


@pytest.mark.formula("ct.helical-pitch")
def test_helical_pitch():
    assert ct.helical_pitch(38.4, 64 * 0.6) == pytest.approx(1.0)
    assert ct.helical_pitch(55.0, 40.0) == pytest.approx(1.375)


@pytest.mark.formula("ct.cone-angle")
def test_cone_angle():
    kappa = ct.cone_angle(40.0, 570.0)
    assert np.tan(kappa / 2) == pytest.approx(20.0 / 570.0)
    assert np.rad2deg(kappa) == pytest.approx(4.0191, abs=1e-4)


def test_inputs_untouched(full_scan):
    beta, gamma, fan = full_scan
    copies = [a.copy() for a in (beta, gamma, fan)]
    ct.fan_beam_fbp(fan, beta, gamma, D, N)
    ct.rebin_to_parallel(fan, beta, gamma, D, np.linspace(0, np.pi, 10), N)
    assert all(np.array_equal(a, b) for a, b in zip((beta, gamma, fan), copies))


_B, _G = fan_grid(16, n=8, d=10.0)
BAD_CALLS = [
    (ct.fan_to_parallel, (0.1, 2.0, 10.0), {}, ValueError, "gamma"),
    (ct.fan_to_parallel, (0.1, 0.2, -1.0), {}, ValueError, "source_radius"),
    (ct.fan_beam_projection, (np.ones((8, 8)), _B, _G, 3.0), {}, ValueError, "source_radius"),
    (ct.fan_beam_projection, (np.ones((8, 6)), _B, _G, 10.0), {}, ValueError, "image"),
    (ct.fan_beam_projection, (np.ones((8, 8)), np.rad2deg(_B), _G, 10.0), {}, ValueError,
     "beta"),
    (ct.rebin_to_parallel, (np.ones((_G.size, 16)), _B[:8], _G, 10.0, [0.0, 1.0], 8), {},
     ValueError, "fan_sinogram"),
    (ct.rebin_to_parallel, (np.ones((_G.size, 8)), _B[:8], _G, 10.0, [0.0, 1.0], 8), {},
     ValueError, "beta"),
    (ct.fan_beam_fbp, (np.ones((_G.size, 16)), _B, _G + 0.01, 10.0, 8), {}, ValueError,
     "gamma"),
    (ct.fan_beam_fbp, (np.ones((_G.size, 16)), _B, _G, 10.0, 8),
     {"redundancy_weights": np.ones(3)}, ValueError, "redundancy_weights"),
    (ct.parker_weights, ([-1.0, 0.0], [0.1]), {}, ValueError, "beta"),
    (ct.helical_pitch, (10.0, 0.0), {}, ValueError, "collimation_mm"),
    (ct.cone_angle, (10.0, -5.0), {}, ValueError, "source_radius_mm"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def _small():
    beta, gamma = fan_grid(16, n=8, d=10.0)
    return beta, gamma, np.ones((gamma.size, beta.size))


BAD_INPUT_CALLS = {
    "ct.fan_beam.fan_to_parallel": Entry(lambda: C(np.array([0.1, 0.5]), np.array([0.2, -0.1]),
                                                   50.0)),
    "ct.fan_beam.fan_beam_projection": Entry(
        lambda: C(np.ones((8, 8)) * ct.circle_mask(8), _small()[0], _small()[1], 10.0,
                  step=0.5)),
    "ct.fan_beam.rebin_to_parallel": Entry(
        lambda: C(_small()[2], _small()[0], _small()[1], 10.0, np.array([0.0, 1.0]), 8)),
    "ct.fan_beam.fan_beam_fbp": Entry(
        lambda: C(_small()[2], _small()[0], _small()[1], 10.0, 8,
                  redundancy_weights=np.full(_small()[2].shape, 0.5))),
    "ct.fan_beam.parker_weights": Entry(lambda: C(np.linspace(0, 4.0, 6),
                                                  np.array([-0.3, 0.0, 0.3]), 0.35)),
    "ct.fan_beam.helical_pitch": Entry(lambda: C(40.0, 38.4)),
    "ct.fan_beam.cone_angle": Entry(lambda: C(40.0, 570.0)),
}
