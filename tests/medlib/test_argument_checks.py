"""Bad input to the public functions whose module tests do not already pin it.

Each call must raise ValueError or TypeError with a message that names the offending argument.
"""
from __future__ import annotations

import numpy as np
import pytest

from medlib import ct, geometry, mri, pet, phantoms
from medlib import ultrasound as us

BAD_CALLS = [
    (geometry.voxel_spacing, (np.ones((3, 4)),), {}, ValueError, "affine"),
    (phantoms.shepp_logan_ellipses, (), {"modified": "yes"}, TypeError, "modified"),
    (phantoms.shepp_logan, (64,), {"modified": 1}, TypeError, "modified"),
    (mri.image_coordinates, (0,), {}, ValueError, "n"),
    (mri.image_coordinates, (8, 0.0), {}, ValueError, "spacing_mm"),
    (mri.kspace_coordinates, (8, -1.0), {}, ValueError, "spacing_mm"),
    (mri.inversion_null_time, (-5.0,), {}, ValueError, "t1_ms"),
    (mri.rf_rotation, (90.0, "q"), {}, ValueError, "axis"),
    (mri.rf_rotation, (np.nan,), {}, ValueError, "flip_deg"),
    (pet.half_life, (0.0,), {}, ValueError, "decay_constant_per_s"),
    (pet.likelihood, ([-1.0, 2.0], [1.0, 1.0]), {}, ValueError, "y"),
    (pet.likelihood, ([1.0, 2.0], [1.0]), {}, ValueError, "expected"),
    (us.analytic_signal, ([],), {}, ValueError, "x"),
    (us.analytic_signal, ([1j, 2.0],), {}, TypeError, "x"),
    (us.attenuate_db, (0.0, -1.0, 2.0), {}, ValueError, "alpha_db_per_cm"),
    (us.cartesian_to_sector, ([np.nan], [1.0]), {}, ValueError, "x_m"),
    (us.cartesian_to_sector, ([1.0, 2.0], [1.0, 2.0, 3.0]), {}, ValueError, "x_m and y_m"),
    (us.sector_to_cartesian, ([0.1, 0.2], [1.0, 2.0, 3.0]), {}, ValueError,
     "angle_rad and depth_m"),
    (us.sector_to_cartesian, ([0.0], [-1.0]), {}, ValueError, "depth_m"),
    (us.db_to_neper, ("a",), {}, TypeError, "alpha_db"),
    (us.neper_to_db, (np.inf,), {}, ValueError, "alpha_np"),
    (us.echo_time, (-1.0,), {}, ValueError, "depth_m"),
    (us.echo_time, (1.0, 0.0), {}, ValueError, "speed_m_per_s"),
    (us.gaussian_pulse_envelope, (np.zeros(3), 0.0), {}, ValueError, "center_frequency_hz"),
    (us.scan_convert, (np.zeros((4, 5)), np.linspace(-0.5, 0.5, 4), np.linspace(0, 0.1, 5)),
     {"pixel_size_m": 0.0}, ValueError, "pixel_size_m"),
    (us.scan_convert, (np.zeros((4, 5)), np.linspace(-0.5, 0.5, 3), np.linspace(0, 0.1, 5)),
     {"pixel_size_m": 1e-3}, ValueError, "lines"),
    (us.simulate_rf, ([0.01], [1.0]), {"fs_hz": 0.0, "n_samples": 100,
                                       "center_frequency_hz": 5e6}, ValueError, "fs_hz"),
    (us.simulate_rf, ([0.01, 0.02], [1.0]), {"fs_hz": 40e6, "n_samples": 100,
                                             "center_frequency_hz": 5e6}, ValueError, "amplitude"),
    (us.transmission_coefficient, (0.0, 1.0), {}, ValueError, "z1"),
    (us.transmission_coefficient, (1.0, 2.0), {"kind": "energy"}, ValueError, "kind"),
]


@pytest.mark.parametrize("func, args, kwargs, error, name", BAD_CALLS,
                         ids=[f"{c[0].__module__.split('.')[-1]}.{c[0].__name__}-{i}"
                              for i, c in enumerate(BAD_CALLS)])
def test_bad_input_raises_an_error_naming_the_argument(func, args, kwargs, error, name):
    with pytest.raises(error, match=name):
        func(*args, **kwargs)


def test_pet_and_ct_share_one_reconstruction_circle():
    assert pet.circle_mask is ct.circle_mask
    mask = ct.circle_mask(9)
    rr, cc = np.mgrid[:9, :9]
    np.testing.assert_array_equal(mask, (rr - 4) ** 2 + (cc - 4) ** 2 <= 16)


def test_coordinate_maps_still_broadcast_a_scalar_against_an_array():
    x, y = us.sector_to_cartesian(0.1, np.array([0.01, 0.02]))
    assert x.shape == y.shape == (2,)
    theta, r = us.cartesian_to_sector(np.zeros(3), 0.05)
    assert theta.shape == r.shape == (3,)
