"""medlib.xray.projection against closed forms and medlib.ct's projector."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test

from medlib import ct, xray


@pytest.mark.formula("xray.transmission")
def test_transmission_is_exponential_and_inverted_by_the_log_transform(rng):
    p = rng.uniform(0, 5, 200)
    intensity = xray.transmission(p, 5e4)
    np.testing.assert_allclose(intensity, 5e4 * np.exp(-p), rtol=1e-14)
    np.testing.assert_allclose(ct.log_transform(intensity, 5e4), p, atol=1e-12)
    assert xray.transmission(0.0) == 1.0


@pytest.mark.formula("xray.transmission")
def test_transmission_of_a_line_integral_equals_lambert_beer_along_the_ray(rng):
    mu = rng.uniform(0, 0.4, size=(6, 80))
    np.testing.assert_allclose(xray.transmission(ct.line_integral(mu, 0.25), 100.0),
                               ct.attenuate(100.0, mu, 0.25), rtol=1e-14)


@pytest.mark.formula("xray.brightness")
def test_slab_transmission_halves_at_the_half_value_layer():
    mu = ct.attenuation_coefficient("bone", 60)
    hvl = np.log(2) / mu
    assert xray.slab_transmission(mu, hvl) == pytest.approx(0.5, rel=1e-14)
    assert xray.slab_transmission(mu, 3 * hvl, 8.0) == pytest.approx(1.0, rel=1e-14)
    d = np.linspace(0, 10, 11)
    values = xray.slab_transmission(mu, d)
    assert np.all(np.diff(values) < 0)            # thicker: darker detector
    denser = xray.slab_transmission(2 * mu, d)
    assert np.all(denser[1:] < values[1:])       # more attenuating: darker detector


@pytest.mark.formula("xray.drr")
def test_drr_through_a_water_sphere_is_its_chord_length():
    n, spacing = 64, 2.0                            # mm
    z, y, x = np.mgrid[:n, :n, :n] - n // 2
    radius_vox = 20
    hu = np.where(x**2 + y**2 + z**2 <= radius_vox**2, 0.0, -1000.0)
    mu_w = ct.attenuation_coefficient("water", 60)
    p = xray.drr(hu, spacing, axis=1, mu_water_per_cm=mu_w)
    assert p.shape == (n, n)
    # Through the centre: 2 R of water (in cm); the voxelised chord has 2 R + 1 voxels.
    assert p[n // 2, n // 2] == pytest.approx((2 * radius_vox + 1) * spacing / 10 * mu_w)
    assert p[0, 0] == 0.0                           # air (and -1000 clipping) is transparent


@pytest.mark.formula("xray.drr")
def test_drr_is_a_single_angle_radon_transform(rng):
    # Each slice of a (z, y, x) volume projected along y equals ct.radon at theta = 0.
    n = 40
    inside = ct.circle_mask(n)
    hu = np.where(inside[None], rng.uniform(-1000, 1500, (5, n, n)), -1000.0)
    mu_w = 0.2
    p = xray.drr(hu, 1.5, axis=1, mu_water_per_cm=mu_w)
    mu = ct.mu_from_hu(hu, mu_w) * 0.15             # mu per voxel step (cm)
    for k in range(5):
        np.testing.assert_allclose(p[k], ct.radon(mu[k], [0.0])[:, 0], rtol=1e-9, atol=1e-12)



BAD_CALLS = [
    (xray.transmission, ([-0.1],), {}, ValueError, "p"),
    (xray.transmission, ([0.1], -1.0), {}, ValueError, "i0"),
    (xray.slab_transmission, (0.2, -1.0), {}, ValueError, "thickness_cm"),
    (xray.slab_transmission, (-0.2, 1.0), {}, ValueError, "mu_per_cm"),
    (xray.drr, (np.zeros((4, 4)), 1.0), {}, TypeError, "axis"),
    (xray.drr, (np.zeros((4, 4)), 1.0), {"axis": 0, "mu_water_per_cm": 0.2}, ValueError, "hu"),
    (xray.drr, (np.zeros((4, 4, 4)), 1.0), {"axis": 0, "mu_water_per_cm": 0.0}, ValueError,
     "mu_water_per_cm"),
    (xray.drr, (np.zeros((4, 4, 4)), 0.0), {"axis": 0, "mu_water_per_cm": 0.2}, ValueError,
     "spacing_mm"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: arrays that do not broadcast are named (not NumPy's generic message)
BROADCAST_CALLS = [
    (xray.transmission, (np.ones(4), np.ones(2)), {}, ValueError, r"i0 \(2,\)"),
    (xray.slab_transmission, (np.ones(2), np.ones(4)), {}, ValueError, r"mu_per_cm \(2,\)"),
    (xray.slab_transmission, (0.2, np.ones(4), np.ones(2)), {}, ValueError, r"i0 \(2,\)"),
]

test_non_broadcasting_arrays_are_named = bad_input_test(BROADCAST_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    hu = rng.uniform(-1200, 1500, (4, 6, 5))
    assert_inputs_unchanged(xray.drr, hu, 1.0, axis=2, mu_water_per_cm=0.2)
    p = rng.uniform(0, 3, (6, 5))
    assert_inputs_unchanged(xray.transmission, p, 10.0)
    assert_inputs_unchanged(xray.slab_transmission, p / 10, p)
