"""medlib.ct.radon (chapters/ct/radon.ipynb) against scikit-image, the exact transform of ellipses
and closed forms."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import bad_input_test, rel_rms
from skimage.transform import radon as sk_radon

from medlib import ct, phantoms

radon_module = sys.modules["medlib.ct.radon"]






@pytest.mark.formula("ct.radon-parametrized")
def test_radon_matches_scikit_image(shepp128, angles180):
    ours = ct.radon(shepp128, angles180)
    theirs = sk_radon(shepp128, np.rad2deg(angles180))
    assert ours.shape == theirs.shape == (128, 180) and ours.dtype == np.float64
    assert rel_rms(ours, theirs) < 0.01


@pytest.mark.formula("ct.radon-parametrized")
def test_radon_orientation_matches_scikit_image_for_an_off_centre_object():
    image = np.zeros((96, 96))
    image[30:34, 60:63] = 1.0                 # up and to the right of the centre
    theta = np.linspace(0, np.pi, 24, endpoint=False)
    ours = ct.radon(image, theta)
    theirs = sk_radon(image, np.rad2deg(theta))
    bins = np.arange(96)
    centroid = (ours * bins[:, None]).sum(0) / ours.sum(0)
    centroid_sk = (theirs * bins[:, None]).sum(0) / theirs.sum(0)
    np.testing.assert_allclose(centroid, centroid_sk, atol=0.1)
    # Closed form: the centre of mass (x, y) projects to t = x cos(theta) + y sin(theta).
    x, y = 61 - 48, 48 - 31.5
    np.testing.assert_allclose(centroid - 48, x * np.cos(theta) + y * np.sin(theta), atol=0.1)


@pytest.mark.formula("ct.radon-parametrized")
def test_radon_at_0_and_90_degrees_are_column_and_row_sums(rng):
    n = 64
    image = np.where(ct.circle_mask(n), rng.uniform(0, 1, (n, n)), 0.0)
    p = ct.radon(image, [0.0, np.pi / 2])
    np.testing.assert_allclose(p[:, 0], image.sum(axis=0), rtol=1e-9, atol=1e-9)
    # theta = pi/2: t = y = n//2 - row, so bin k holds row n - k.
    np.testing.assert_allclose(p[1:, 1], image.sum(axis=1)[::-1][:-1], rtol=1e-9, atol=1e-9)


@pytest.mark.formula("ct.radon")
def test_radon_of_a_pixelated_disc_matches_the_analytic_transform(angles180):
    table = [[1.0, 0.5, 0.5, 0.1, 0.2, 0.0]]
    image = phantoms.ellipse_phantom(table, 128, oversample=8)     # area-averaged pixels
    exact = ct.radon_ellipses(table, angles180, 128)
    assert rel_rms(ct.radon(image, angles180), exact) < 0.01


@pytest.mark.formula("ct.radon")
def test_radon_of_shepp_logan_is_as_close_to_the_analytic_transform_as_scikit_image(
        angles180):
    # Sharp edges sampled on a pixel grid differ from the exact line integrals by a few per
    # cent (the skull); the discretisation must be no worse than scikit-image's.
    table = phantoms.shepp_logan_ellipses()
    image = phantoms.ellipse_phantom(table, 128, oversample=4)
    exact = ct.radon_ellipses(table, angles180, 128)
    ours = rel_rms(ct.radon(image, angles180), exact)
    theirs = rel_rms(sk_radon(image, np.rad2deg(angles180)), exact)
    assert ours <= theirs and ours < 0.03


@pytest.mark.formula("ct.radon")
def test_analytic_projection_of_a_disc_is_its_chord_length():
    # Odd n: the rotation centre pixel is the centre of the field of view.
    theta = np.linspace(0, np.pi, 7)
    p = ct.radon_ellipses([[2.0, 0.5, 0.5, 0.0, 0.0, 0.0]], theta, 65)
    pix = 2 / 65
    t = (np.arange(65) - 32) * pix
    expected = 2.0 * 2 * np.sqrt(np.clip(0.25 - t**2, 0, None)) / pix
    for col in p.T:
        np.testing.assert_allclose(col, expected, atol=1e-12)


@pytest.mark.formula("ct.radon-parametrized")
def test_every_projection_carries_the_whole_image(rng):
    # The integral of p(theta, t) over t is the integral of the image, at every angle (for an
    # object clear of the circle's rim, whose footprints would overhang the last bins).
    r = np.hypot(*np.mgrid[-25:25, -25:25])
    image = np.where(r < 23, rng.uniform(0, 1, (50, 50)), 0.0)
    p = ct.radon(image, rng.uniform(-4, 4, 25))
    np.testing.assert_allclose(p.sum(axis=0), image.sum(), rtol=1e-10)


@pytest.mark.parametrize("theta_deg", [17.0, 45.0, 71.0, 118.0, 160.0])
def test_central_slice_theorem_holds_at_oblique_angles(theta_deg):
    # The 1D Fourier transform of the projection at theta equals the closed-form 2D transform
    # of a rotated, off-centre Gaussian on the line at theta through the origin. At theta = 0
    # this would be an identity of column sums; at oblique angles it checks the geometry (the
    # slice at -theta, what a y-down convention gives, must not match).
    n = 128
    s1, s2, alpha, x0, y0 = 6.0, 3.0, np.deg2rad(-25.0), -12.0, 18.0
    x, y = ct.pixel_positions(n)

    def rotate(u, v):
        return u * np.cos(alpha) + v * np.sin(alpha), -u * np.sin(alpha) + v * np.cos(alpha)

    def transform(u, v):
        ur, vr = rotate(u, v)
        return (2 * np.pi * s1 * s2 * np.exp(-2 * np.pi**2 * (s1**2 * ur**2 + s2**2 * vr**2))
                * np.exp(-2j * np.pi * (u * x0 + v * y0)))

    xr, yr = rotate(x - x0, y - y0)
    image = np.where(ct.circle_mask(n), np.exp(-xr**2 / (2 * s1**2) - yr**2 / (2 * s2**2)), 0.0)
    theta = np.deg2rad(theta_deg)
    p = ct.radon(image, [theta])[:, 0]
    f = np.linspace(0.0, 0.5, 101)
    spectrum = np.exp(-2j * np.pi * f[:, None] * ct.detector_positions(n)[None, :]) @ p
    peak = 2 * np.pi * s1 * s2
    error = np.abs(spectrum - transform(f * np.cos(theta), f * np.sin(theta))).max() / peak
    mirrored = np.abs(spectrum - transform(f * np.cos(theta), -f * np.sin(theta))).max() / peak
    assert error < 1e-2                   # pixel and bin widths: up to 0.6 % of the peak
    assert mirrored > 0.5


def test_radon_is_linear_and_symmetric_under_a_half_turn(rng, shepp128):
    theta = rng.uniform(0, np.pi, 9)
    other = np.where(ct.circle_mask(128), rng.uniform(0, 1, (128, 128)), 0.0)
    np.testing.assert_allclose(ct.radon(2 * shepp128 - 3 * other, theta),
                               2 * ct.radon(shepp128, theta) - 3 * ct.radon(other, theta),
                               atol=1e-9)
    # p(theta + pi, t) = p(theta, -t); t -> -t maps bin k to 2 * (n // 2) - k.
    a, b = ct.radon(shepp128, theta), ct.radon(shepp128, theta + np.pi)
    np.testing.assert_allclose(b[1:], a[1:][::-1], atol=1e-9)


@pytest.mark.formula("ct.radon-parametrized")
@pytest.mark.parametrize("n", [31, 32, 33])
def test_geometry_helpers_state_scikit_images_convention(n, rng):
    x, y = ct.pixel_positions(n)
    t = ct.detector_positions(n)
    assert x[0, 0] == -(n // 2) and y[0, 0] == n // 2 and t[n // 2] == 0
    # One pixel, many angles: both libraries put it at t = x cos + y sin (odd and even n).
    row, col = rng.integers(n // 2 - 6, n // 2 + 6, size=2)
    image = np.zeros((n, n))
    image[row, col] = 1.0
    theta = np.linspace(0, np.pi, 12, endpoint=False)
    expected = x[row, col] * np.cos(theta) + y[row, col] * np.sin(theta)
    for sino in (ct.radon(image, theta), sk_radon(image, np.rad2deg(theta))):
        centroid = (sino * t[:, None]).sum(0) / sino.sum(0)
        np.testing.assert_allclose(centroid, expected, atol=0.2)


def test_the_sinogram_of_a_point_is_a_sinusoid():
    n = 64
    image = np.zeros((n, n))
    image[20, 40] = 1.0                               # x = 8, y = 12
    theta = np.linspace(0, np.pi, 50, endpoint=False)
    p = ct.radon(image, theta)
    centroid = (p * np.arange(n)[:, None]).sum(0) / p.sum(0) - n // 2
    # Bins have width 1: a one-pixel footprint's centroid is exact to (1 - 0.707) / 2 + 1/32.
    np.testing.assert_allclose(centroid, 8 * np.cos(theta) + 12 * np.sin(theta), atol=0.2)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-10)


def test_radon_of_zero_image_is_zero():
    assert np.all(ct.radon(np.zeros((16, 16)), [0.1, 0.2]) == 0)


def test_circle_mask_and_padding():
    mask = ct.circle_mask(9)
    i, j = np.mgrid[:9, :9]
    np.testing.assert_array_equal(mask, (i - 4) ** 2 + (j - 4) ** 2 <= 16)
    assert mask[4, 0] and mask[0, 4] and not mask[0, 0] and mask.sum() == 49
    img = np.ones((30, 50))
    padded = ct.pad_to_circle(img)
    m = padded.shape[0]
    assert padded.shape == (m, m) and padded.sum() == img.sum()
    assert np.all(padded[~ct.circle_mask(m)] == 0)
    assert padded[m // 2, m // 2] == 1.0
    ct.radon(padded, [0.3])                          # accepted: all inside the circle



# --------------------------------------------------------------------------------- bad input

SQUARE = np.zeros((8, 8))
# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (ct.circle_mask, (2**63,), {}, ValueError,
     "^n asks for an array of shape.*more than the limit of 268435456"),
    (ct.circle_mask, (2**15,), {}, ValueError, "^n asks for an array"),
    (ct.pixel_positions, (2**40,), {}, ValueError, "^n asks for an array"),
    (ct.detector_positions, (2**63,), {}, ValueError, "^n asks for an array"),
    (ct.radon_ellipses, (phantoms.shepp_logan_ellipses(), [0.0], 2**63), {}, ValueError,
     "^n asks for an array"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


BAD_CALLS = [
    (ct.radon, (np.zeros((8, 9)), [0.0]), {}, ValueError, "square"),
    (ct.radon, (np.ones((8, 8)), [0.0]), {}, ValueError, "outside"),
    (ct.radon, (SQUARE, []), {}, ValueError, "theta"),
    (ct.radon, (SQUARE, [[0.0, 1.0]]), {}, ValueError, "theta"),
    (ct.radon, (np.full((8, 8), np.nan), [0.0]), {}, ValueError, "finite"),
    (ct.radon, (np.zeros(8), [0.0]), {}, ValueError, "image"),
    (ct.circle_mask, (0,), {}, ValueError, "n"),
    (ct.detector_positions, (0,), {}, ValueError, "n"),
    (ct.pixel_positions, (0,), {}, ValueError, "n"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, shepp128):
    theta = np.linspace(0, np.pi, 10, endpoint=False)
    image = shepp128.copy()
    assert_inputs_unchanged(ct.radon, image, theta)
    assert_inputs_unchanged(ct.pad_to_circle, image)
    assert_inputs_unchanged(ct.radon_ellipses, phantoms.shepp_logan_ellipses(), theta, 32)


def test_ct_radon_is_the_function_not_its_module():
    assert callable(ct.radon) and ct.radon is radon_module.radon


def test_the_package_re_exports_every_name_of_the_module():
    # ``from medlib import ct; ct.<name>`` is the object defined in medlib/ct/radon.py.
    for name in radon_module.__all__:
        assert getattr(ct, name) is getattr(radon_module, name), name
    assert set(radon_module.__all__) <= set(ct.__all__)


def test_radon_ellipses_of_a_disc_is_the_chord_length_and_stays_finite_at_extremes():
    # issue 11: a table of 1e300 (a^2 and a b overflow) or 1e-300 (s^2 underflows to 0) gave NaN
    theta = np.linspace(0.0, np.pi, 6, endpoint=False)
    n, r, rho = 16, 0.5, 2.0
    pix = 2.0 / n
    xc = -1.0 + (n // 2 + 0.5) * pix          # the rotation centre: pixel (n // 2, n // 2)
    p = ct.radon_ellipses(np.array([[rho, r, r, xc, -xc, 0.0]]), theta, n)
    t = (np.arange(n) - n // 2) * pix                                   # bin centres
    chord = 2 * rho * np.sqrt(np.clip(r**2 - t**2, 0.0, None)) / pix   # in value x pixels
    np.testing.assert_allclose(p, np.repeat(chord[:, None], theta.size, axis=1), atol=1e-12)
    for extreme in (1e300, 1e-300):
        out = ct.radon_ellipses(np.full((2, 6), extreme), theta, 8)
        assert not np.isnan(out).any(), extreme
