"""medlib.prep.why_different (chapters/prep-ct-xray/why-different.ipynb) against NumPy,
scikit-image and the course's real files."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from skimage.util import img_as_ubyte

from medlib import data, prep

BAD_INPUT_CALLS = {
    # The summary reports the container: a list has none of its own (NumPy makes it int64).
    "prep.why_different.intensity_summary": Entry(
        lambda: C(np.array([[-1024, 0], [40, 3071]], dtype=np.int16)),
        valid={"image": {"list"}}),
    "prep.why_different.requantise": Entry(
        lambda: C(np.array([[-1000.0, 0.0], [40.0, 1000.0]]), 8)),
}


def test_summary_of_the_real_ct_and_radiograph():
    ct = pydicom.dcmread(data.path("dicom/ct_head_693.dcm")).pixel_array
    s = prep.intensity_summary(ct)
    assert s["dtype"] == "int16" and s["dtype_bits"] == 16
    assert (s["min"], s["max"]) == (float(ct.min()), float(ct.max()))
    assert s["distinct"] == np.unique(ct).size
    assert s["bits_used"] == int(np.ceil(np.log2(int(ct.max()) - int(ct.min()) + 1)))
    assert s["at_min"] == pytest.approx(np.count_nonzero(ct == ct.min()) / ct.size)
    ds = pydicom.dcmread(data.path("dicom/cr_chest_rg1_half.dcm"))
    cr = prep.intensity_summary(ds.pixel_array)
    assert cr["bits_used"] <= ds.BitsStored == 15 and cr["dtype_bits"] == 16


def test_summary_closed_forms():
    s = prep.intensity_summary(np.array([0, 255, 255, 7], dtype=np.uint8))
    assert s == {"dtype": "uint8", "min": 0.0, "max": 255.0, "distinct": 3, "bits_used": 8,
                 "dtype_bits": 8, "at_min": 0.25, "at_max": 0.5}
    f = prep.intensity_summary(np.array([0.25, 0.5]))
    assert f["bits_used"] is None and f["dtype_bits"] is None
    assert prep.intensity_summary(np.array([3.0, 4.0]))["bits_used"] == 1


def test_requantise_matches_scikit_image_bytes():
    rng = np.random.default_rng(0)
    x = rng.random((20, 30))
    x[0, 0], x[0, 1] = 0.0, 1.0
    before = x.copy()
    restored, step = prep.requantise(x, 8, low=0.0, high=1.0)
    assert step == pytest.approx(1 / 255)
    np.testing.assert_allclose(restored * 255, img_as_ubyte(x).astype(float), atol=1e-9)
    assert np.abs(restored - x).max() <= step / 2 + 1e-12
    np.testing.assert_array_equal(x, before)


def test_requantise_range_and_error_bound_in_hu():
    hu = np.linspace(-2000.0, 2500.0, 10001)
    restored, step = prep.requantise(hu, 8)
    assert step == pytest.approx(4500 / 255)
    assert np.abs(restored - hu).max() <= step / 2 + 1e-9
    assert np.unique(restored).size == 256
    clipped, _ = prep.requantise(hu, 4, low=-100.0, high=100.0)
    assert clipped.min() == -100.0 and clipped.max() == 100.0


test_bad_input_raises_a_clear_error = bad_input_test([
    (prep.requantise, (np.zeros(3),), {}, ValueError, "low"),
    (prep.requantise, (np.arange(3.0), 0), {}, ValueError, "bits"),
    (prep.requantise, (np.arange(3.0),), {"low": 2.0, "high": 1.0}, ValueError, "low"),
    (prep.intensity_summary, (np.array([]),), {}, ValueError, "image"),
    (prep.intensity_summary, (np.array(["a"]),), {}, TypeError, "image"),
])
