"""medlib.phantoms against scikit-image's Shepp-Logan phantom and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import ndimage
from skimage.data import shepp_logan_phantom

from medlib import phantoms


def test_modified_shepp_logan_matches_scikit_image_away_from_edges():
    ref = shepp_logan_phantom()              # 400 x 400, Toft's modified values
    ours = phantoms.shepp_logan(400)
    # Rasterisations differ only on ellipse boundaries: compare pixels 2+ pixels from any edge.
    edges = ndimage.grey_dilation(ours, size=5) != ndimage.grey_erosion(ours, size=5)
    interior = ~edges
    assert interior.mean() > 0.9
    np.testing.assert_allclose(ours[interior], ref[interior], atol=0.005)


def test_original_shepp_logan_has_the_published_region_values():
    img = phantoms.shepp_logan(256, modified=False)
    centre = img[128, 128]                       # inside skull, brain and ellipse 5? no: y=0
    assert centre == pytest.approx(2.0 - 0.98)   # brain 1.02
    # Right ventricle (ellipse 3 at x = +0.22): brain - 0.02 = 1.00
    col = int(round((0.22 + 1) / 2 * 256 - 0.5))
    assert img[128, col] == pytest.approx(1.00)
    assert img[0, 0] == 0.0 and img[128, 3] == 0.0            # air outside the head
    assert img[128, int(round((-0.67 + 1) / 2 * 256))] == pytest.approx(2.0)  # skull


def test_ellipse_area_fraction_matches_pi_a_b_with_oversampling():
    a, b = 0.5, 0.3
    img = phantoms.ellipse_phantom([[1.0, a, b, 0.1, -0.2, 30.0]], 128, oversample=4)
    # Field of view has area 4; the ellipse pi a b.
    assert img.mean() * 4 == pytest.approx(np.pi * a * b, rel=2e-3)


def test_ellipse_orientation_x_right_y_up():
    img = phantoms.ellipse_phantom([[1.0, 0.2, 0.2, 0.5, 0.5, 0.0]], 100)
    rows, cols = np.nonzero(img)
    assert rows.mean() < 50 and cols.mean() > 50   # upper right quadrant


def test_zone_plate_follows_its_phase_law():
    n = 64
    img = phantoms.zone_plate(n, max_frequency=0.5)
    c = np.arange(n) - (n - 1) / 2
    r2 = c[:, None] ** 2 + c[None, :] ** 2
    np.testing.assert_allclose(img, 0.5 * (1 + np.cos(np.pi * 0.5 * r2 / (n / 2))))
    assert img.min() >= 0 and img.max() <= 1


# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (phantoms.zone_plate, (2**63,), {}, ValueError, "^size asks for an array"),
    (phantoms.shepp_logan, ((4, 4, 4),), {}, ValueError, r"^shape must be an int or a pair"),
    (phantoms.shepp_logan, (2**40,), {}, ValueError, "^shape asks for an array"),
    (phantoms.shepp_logan, (2**13,), {"oversample": 8}, ValueError,
     "^shape and oversample asks for an array"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


BAD_CALLS = [
    (phantoms.ellipse_phantom, ([[1, 0.1, 0.1, 0, 0]], 10), {}, ValueError, r"\(n, 6\)"),
    (phantoms.ellipse_phantom, ([[1, 0.0, 0.1, 0, 0, 0]], 10), {}, ValueError, "semi-axes"),
    (phantoms.ellipse_phantom, ([[1, 0.1, 0.1, 0, 0, 0]], 0), {}, ValueError, "shape"),
    (phantoms.shepp_logan, (64,), {"oversample": 0}, ValueError, "oversample"),
    (phantoms.shepp_logan, (10.5,), {}, TypeError, "shape"),
    (phantoms.zone_plate, (1,), {}, ValueError, "size"),
    (phantoms.zone_plate, (16,), {"max_frequency": 0}, ValueError, "max_frequency"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_ellipse_phantom_leaves_the_table_unchanged(assert_inputs_unchanged):
    table = phantoms.shepp_logan_ellipses()
    assert_inputs_unchanged(phantoms.ellipse_phantom, table, 32)
    table[0, 0] = 99
    assert phantoms.shepp_logan_ellipses()[0, 0] == 1.0  # the module's table is not shared
