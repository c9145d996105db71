"""medlib.ct.hu_windowing (chapters/ct/hu-windowing.ipynb) against pydicom and closed forms."""
from __future__ import annotations

import sys

import numpy as np
import pydicom
import pytest
from helpers import bad_input_test
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_windowing

from medlib import ct, data

hu_windowing_module = sys.modules["medlib.ct.hu_windowing"]



@pytest.mark.formula("ct.hu")
def test_water_is_zero_and_air_minus_1000_hu():
    mu_w = ct.attenuation_coefficient("water", 70)
    assert ct.hu_from_mu(mu_w, mu_w) == 0.0
    assert ct.hu_from_mu(0.0, mu_w) == -1000.0
    assert ct.hu_from_mu(2 * mu_w, mu_w) == pytest.approx(1000.0)
    hu = np.array([-1000.0, -500.0, 0.0, 40.0, 1500.0])
    np.testing.assert_allclose(ct.hu_from_mu(ct.mu_from_hu(hu, mu_w), mu_w), hu, atol=1e-9)


@pytest.mark.formula("ct.hu-two-point")
def test_two_point_calibration_puts_real_air_at_minus_1000():
    mu_w = ct.attenuation_coefficient("water", 60)
    mu_a = ct.attenuation_coefficient("air", 60)
    assert ct.hu_from_mu(mu_a, mu_w, mu_air=mu_a) == pytest.approx(-1000.0, abs=1e-9)
    assert ct.hu_from_mu(mu_w, mu_w, mu_air=mu_a) == 0.0
    one_point = float(ct.hu_from_mu(mu_a, mu_w))
    assert one_point == pytest.approx(-1000 + 1000 * 0.1875 * 1.205e-3 / 0.2059, rel=1e-9)
    hu = np.array([-800.0, 60.0])
    np.testing.assert_allclose(
        ct.hu_from_mu(ct.mu_from_hu(hu, mu_w, mu_air=mu_a), mu_w, mu_air=mu_a), hu)


@pytest.mark.formula("ct.hu-rescale")
def test_hu_from_stored_values_matches_pydicom_on_a_real_ct():
    ds = pydicom.dcmread(data.path("dicom/ct_head_693.dcm"))
    ours = ct.hu_from_stored(ds.pixel_array, ds.RescaleSlope, ds.RescaleIntercept)
    np.testing.assert_array_equal(ours, apply_modality_lut(ds.pixel_array, ds))
    assert ours.dtype == np.float64


@pytest.mark.formula("ct.window")
def test_window_maps_the_range_onto_zero_one_monotonically(rng):
    hu = np.sort(rng.uniform(-1500, 2500, 1000))
    out = ct.window(hu, 40, 400)
    assert out.min() >= 0 and out.max() <= 1 and np.all(np.diff(out) >= 0)
    np.testing.assert_allclose(ct.window([-160, 40, 240, -1000, 3000], 40, 400),
                               [0, 0.5, 1, 0, 1])


@pytest.mark.formula("ct.window")
def test_window_agrees_with_dicom_linear_voi_within_one_over_width():
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsStored, ds.PixelRepresentation = 16, 0
    ds.WindowCenter, ds.WindowWidth = 1200, 400
    stored = np.arange(800, 1601, dtype=float)
    dicom = apply_windowing(stored, ds) / 65535.0
    assert np.max(np.abs(ct.window(stored, 1200, 400) - dicom)) <= 1.0 / 400 + 1e-12


def test_clinical_windows_table():
    assert ct.CLINICAL_WINDOWS["lung"] == (-600.0, 1500.0)
    assert ct.CLINICAL_WINDOWS["brain"] == (40.0, 80.0)
    hu = np.array([-600.0, 0.0])
    np.testing.assert_array_equal(ct.clinical_window(hu, "lung"), ct.window(hu, -600, 1500))
    assert set(ct.CLINICAL_WINDOWS) == {"soft tissue", "lung", "bone", "brain", "mediastinum",
                                        "abdomen"}



# --------------------------------------------------------------------------------- bad input

BAD_CALLS = [
    (ct.window, ([0.0], 40, 0), {}, ValueError, "width"),
    (ct.window, ([0.0], 40, -400), {}, ValueError, "width"),
    (ct.window, ([0.0], np.nan, 400), {}, ValueError, "level"),
    (ct.clinical_window, ([0.0], "liver"), {}, ValueError, "name"),
    (ct.hu_from_mu, ([0.1], 0.0), {}, ValueError, "mu_water"),
    (ct.hu_from_mu, ([0.1], 0.2, 0.3), {}, TypeError, "positional"),
    (ct.hu_from_stored, ([1, 2], 0, -1024), {}, ValueError, "slope"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_a_valid_call_next_to_the_bad_ones_runs():
    assert ct.hu_from_mu([0.1], 0.2) == pytest.approx([-500.0])


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    hu = rng.uniform(-1000, 1000, 50)
    assert_inputs_unchanged(ct.window, hu, 40.0, 400.0)
    assert_inputs_unchanged(ct.hu_from_mu, hu / 5000 + 0.2, 0.2)
    assert_inputs_unchanged(ct.mu_from_hu, hu, 0.2)
    assert_inputs_unchanged(ct.hu_from_stored, hu, 1.0, -1024.0)


def test_the_package_re_exports_every_name_of_the_module():
    # ``from medlib import ct; ct.<name>`` is the object defined in medlib/ct/hu_windowing.py.
    for name in hu_windowing_module.__all__:
        assert getattr(ct, name) is getattr(hu_windowing_module, name), name
    assert set(hu_windowing_module.__all__) <= set(ct.__all__)
