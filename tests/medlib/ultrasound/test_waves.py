"""medlib.ultrasound.waves against closed forms: c = lambda f, the travelling wave, z = c t / 2,
and the tissue table."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test

from medlib import ultrasound as us

FC = 5e6


@pytest.mark.formula("us.wave-relation")
def test_wavelength_is_speed_over_frequency():
    assert us.wavelength(1540.0, 5e6) == pytest.approx(0.308e-3)
    lam = us.wavelength(np.array([1450.0, 1540.0, 1580.0]), 2.5e6)
    np.testing.assert_allclose(lam * 2.5e6, [1450.0, 1540.0, 1580.0])


@pytest.mark.formula("us.pressure-wave")
def test_pressure_wave_travels_at_the_speed_of_sound():
    x = np.linspace(0, 3e-3, 301)
    t = np.array([0.0, 0.13e-6, 0.5e-6])[:, None]
    p = us.pressure_wave(x[None, :], t, amplitude_pa=2.0, frequency_hz=FC, speed_m_per_s=1540.0)
    # Independent form: a function of t - x / c only.
    np.testing.assert_allclose(p, 2.0 * np.cos(2 * np.pi * FC * (t - x / 1540.0)), atol=1e-12)
    dt = 0.2e-6
    shifted = us.pressure_wave(x + 1540.0 * dt, dt, amplitude_pa=2.0, frequency_hz=FC)
    np.testing.assert_allclose(shifted, us.pressure_wave(x, 0.0, amplitude_pa=2.0,
                                                         frequency_hz=FC), atol=1e-12)


@pytest.mark.formula("us.range-equation")
def test_echo_depth_and_time_are_inverse_and_13_us_per_cm():
    assert us.echo_time(0.01) == pytest.approx(12.987e-6, rel=1e-4)
    z = np.linspace(0, 0.2, 11)
    np.testing.assert_allclose(us.echo_depth(us.echo_time(z)), z)


def test_tissue_table():
    assert us.tissue("soft tissue").speed_m_per_s == us.SOFT_TISSUE_SPEED_M_PER_S
    for t in us.TISSUES.values():
        lo, hi = t.speed_range_m_per_s
        assert lo <= t.speed_m_per_s <= hi
    assert us.tissue("fat").speed_m_per_s < us.tissue("liver").speed_m_per_s


BAD_CALLS = [
    (us.wavelength, (1540.0, 0.0), {}, ValueError, "frequency_hz"),
    (us.wavelength, (-1.0, 5e6), {}, ValueError, "speed_m_per_s"),
    (us.pressure_wave, (0.0, 0.0), {"amplitude_pa": 1.0, "frequency_hz": -1.0}, ValueError,
     "frequency_hz"),
    (us.echo_depth, (-1e-6,), {}, ValueError, "t_s"),
    (us.tissue, ("bones",), {}, ValueError, "name"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_dtypes_and_shapes():
    assert isinstance(us.wavelength(1540.0, 1e6), float)


def test_the_package_re_exports_every_public_name():
    from medlib.ultrasound import waves

    assert set(waves.__all__) <= set(us.__all__)
    for name in waves.__all__:
        assert getattr(us, name) is getattr(waves, name), name
