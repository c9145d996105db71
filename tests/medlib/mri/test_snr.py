"""medlib.mri.snr against Monte Carlo noise through the reconstruction, Rician samples from
medlib.noise and the physical closed forms (Larmor frequency, B1 = alpha / (gamma tau))."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy import constants

from medlib import mri, noise

BAD_INPUT_CALLS = {
    "mri.snr.relative_snr": Entry(lambda: C((5.0, 1.0, 1.0), 64, 64, 32000.0, n_avg=2)),
    "mri.snr.acquire": Entry(lambda: C(np.ones((6, 6)), (1.0, 1.5), bandwidth_hz=1000.0,
                                       noise_density=0.01, rng=1, n_avg=2, slice_mm=2.0)),
    "mri.snr.repeated_snr": Entry(lambda: C(np.arange(32.0).reshape(2, 4, 4) % 5 + 10,
                                            np.ones((4, 4), bool))),
    "mri.snr.snr_from_background": Entry(lambda: C(np.array([10.0, 11.0, 9.5]),
                                                   np.array([1.0, 0.5, 2.0, 1.2]))),
    "mri.snr.field_snr_ratio": Entry(lambda: C(3.0, 1.5, exponent=1.0)),
    "mri.snr.relative_sar": Entry(lambda: C(3.0, 90.0, 1.0, 10.0)),
}


def _snr(rng, n_rep=24, shape=(32, 32), **kw):
    kw = {"bandwidth_hz": 32000.0, "noise_density": 1.0, "n_avg": 1, "slice_mm": 4.0,
          "spacing_mm": (1.0, 1.0)} | kw
    sp = kw.pop("spacing_mm")
    reps = np.stack([mri.acquire(np.ones(shape), sp, rng=rng, **kw).real for _ in range(n_rep)])
    return mri.repeated_snr(reps, np.ones(shape, bool))


@pytest.mark.formula("mri.snr-scaling")
@pytest.mark.parametrize("change, factor", [
    ({"bandwidth_hz": 16000.0}, np.sqrt(2)),          # half the bandwidth
    ({"n_avg": 2}, np.sqrt(2)),                        # twice the averages
    ({"slice_mm": 8.0}, 2.0),                          # twice the slice
    ({"spacing_mm": (1.0, 2.0)}, 2.0),                 # twice the pixel (same matrix)
    ({"shape": (32, 64), "spacing_mm": (1.0, 1.0)}, np.sqrt(2)),   # twice the readout samples
])
def test_monte_carlo_snr_ratios_follow_the_scaling_law(change, factor, rng):
    base, err0 = _snr(rng)
    new, err1 = _snr(rng, **change)
    tol = 4 * np.hypot(err0, err1)
    assert new / base == pytest.approx(factor, rel=tol)
    dz, sp = change.get("slice_mm", 4.0), change.get("spacing_mm", (1.0, 1.0))
    shape = change.get("shape", (32, 32))
    predicted = (mri.relative_snr((dz, *sp), shape[0], shape[1],
                                  change.get("bandwidth_hz", 32000.0),
                                  n_avg=change.get("n_avg", 1))
                 / mri.relative_snr((4.0, 1.0, 1.0), 32, 32, 32000.0))
    assert predicted == pytest.approx(factor, rel=1e-12)


@pytest.mark.formula("mri.snr-scaling")
def test_absolute_snr_of_the_real_part_is_rho_times_relative_snr_over_the_density(rng):
    snr, err = _snr(rng, n_rep=30, noise_density=0.5, spacing_mm=(0.8, 1.2))
    # rho dz dx dy sqrt(N_pe N_ro / BW) / noise density, written out (not via relative_snr)
    expected = 1.0 * 4.0 * 0.8 * 1.2 * np.sqrt(32 * 32 / 32000.0) / 0.5
    assert mri.relative_snr((4.0, 0.8, 1.2), 32, 32, 32000.0) / 0.5 == pytest.approx(expected)
    assert snr == pytest.approx(expected, rel=4 * err)


def test_acquire_without_noise_returns_the_image_times_the_slice(rng):
    img = rng.normal(size=(6, 8))
    out = mri.acquire(img, 1.5, bandwidth_hz=1e3, noise_density=0.0, rng=rng, slice_mm=3.0)
    np.testing.assert_allclose(out, 3.0 * img, atol=1e-12)


@pytest.mark.formula("mri.snr-magnitude")
@pytest.mark.parametrize("a", [1.0, 2.0, 8.0])
def test_snr_from_background_removes_the_rician_bias(a, rng):
    sigma = 3.0
    tissue = noise.rician_magnitude(np.full(200_000, a * sigma), sigma, rng)
    air = noise.rician_magnitude(np.zeros(200_000), sigma, rng)
    est = mri.snr_from_background(tissue, air)
    assert est == pytest.approx(a, rel=0.02)
    naive = tissue.mean() / air.std()            # what a student computes first
    assert abs(naive / a - 1) > 0.1


@pytest.mark.formula("mri.snr-field")
def test_field_ratio_limits():
    # EMF ~ omega0 M0 ~ B0^2; noise ~ B0 (body) or B0^(1/4) (coil)
    assert mri.field_snr_ratio(3.0, 1.5) == pytest.approx(3.0 ** 2 / 3.0 / (1.5 ** 2 / 1.5))
    assert mri.field_snr_ratio(3.0, 1.5, exponent=1.75) == pytest.approx(
        (3.0 ** 2 / 3.0 ** 0.25) / (1.5 ** 2 / 1.5 ** 0.25))
    np.testing.assert_allclose(mri.field_snr_ratio(np.array([0.5, 7.0]), 1.0), [0.5, 7.0])


@pytest.mark.formula("mri.sar-field")
def test_sar_ratios_from_b1_and_the_larmor_frequency():
    gamma = 2 * np.pi * constants.physical_constants[
        "shielded proton gyromag. ratio in MHz/T"][0] * 1e6                  # rad/s/T

    def dissipated(b0, flip_deg, tau_ms, tr_ms):           # sigma E^2 duty, E ~ omega0 B1
        b1 = np.deg2rad(flip_deg) / (gamma * tau_ms * 1e-3)
        return (gamma * b0 * b1) ** 2 * tau_ms / tr_ms

    ref = dissipated(1.5, 90.0, 1.0, 10.0) / mri.relative_sar(1.5, 90.0, 1.0, 10.0)
    for args in [(3.0, 90.0, 1.0, 10.0), (3.0, 180.0, 2.0, 15.0), (7.0, 30.0, 0.5, 4.0)]:
        assert dissipated(*args) / mri.relative_sar(*args) == pytest.approx(ref, rel=1e-12)
    assert mri.relative_sar(3.0, 90.0, 1.0, 10.0) / mri.relative_sar(1.5, 90.0, 1.0, 10.0) == 4.0


BAD_CALLS = [
    (mri.relative_snr, ((1.0, 1.0), 64, 64, 1e4), {}, ValueError, "spacing_mm"),
    (mri.relative_snr, ((1.0, 1.0, 1.0), 0, 64, 1e4), {}, ValueError, "n_pe"),
    (mri.acquire, (np.ones(4), 1.0), {"bandwidth_hz": 1e3, "noise_density": 1.0, "rng": 0},
     ValueError, "image"),
    (mri.acquire, (np.ones((4, 4)), 1.0), {"bandwidth_hz": 1e3, "noise_density": -1.0, "rng": 0},
     ValueError, "noise_density"),
    (mri.repeated_snr, (np.ones((1, 4, 4)), np.ones((4, 4), bool)), {}, ValueError,
     "repetitions"),
    (mri.repeated_snr, (np.ones((3, 4, 4)), np.zeros((4, 4), bool)), {}, ValueError, "roi"),
    (mri.snr_from_background, (np.ones(3), np.zeros(4)), {}, ValueError, "background"),
    (mri.field_snr_ratio, (3.0, 1.5), {"exponent": 2.0}, ValueError, "exponent"),
    (mri.relative_sar, (3.0, 90.0, 20.0, 10.0), {}, ValueError, "pulse_ms"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)
