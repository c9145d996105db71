"""medlib.xray.flat_field against closed forms, scikit-image and pydicom."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from helpers import bad_input_test
from pydicom.dataset import Dataset
from pydicom.pixels import apply_presentation_lut
from skimage.exposure import rescale_intensity

from medlib import data, xray


@pytest.mark.formula("xray.detector-model")
def test_detector_response_is_gain_times_signal_plus_dark(rng):
    signal = rng.uniform(0, 1000, (20, 30))
    gain, dark = xray.simulate_detector((20, 30), rng)
    raw = xray.detector_response(signal, gain, dark)
    np.testing.assert_allclose(raw, gain * signal + dark, rtol=1e-14)
    np.testing.assert_allclose(xray.detector_response(signal, 2.0, 10.0), 2 * signal + 10)


def test_simulated_detector_has_the_requested_statistics():
    gain, dark = xray.simulate_detector((400, 300), 5, pixel_gain_sd=0.05, column_gain_sd=0.0,
                                        falloff=0.0, dark_mean=100.0, dark_sd=10.0)
    assert gain.mean() == pytest.approx(1.0, abs=0.002)
    assert gain.std() == pytest.approx(0.05, rel=0.03)
    assert dark.mean() == pytest.approx(100.0, abs=0.1)
    assert dark.std() == pytest.approx(10.0, rel=0.03)
    again = xray.simulate_detector((400, 300), 5, pixel_gain_sd=0.05, column_gain_sd=0.0,
                                   falloff=0.0)
    np.testing.assert_array_equal(gain, again[0])
    striped, _ = xray.simulate_detector((400, 300), 1, pixel_gain_sd=0.0, column_gain_sd=0.05,
                                        falloff=0.0)
    assert np.allclose(striped, striped[0])           # columns: constant down each column
    assert striped[0].std() == pytest.approx(0.05, rel=0.2)


@pytest.mark.formula("xray.detector-model")
@pytest.mark.parametrize("g", [0.5, 4.0])
def test_exposure_counts_quanta_before_the_gain_so_variance_is_gain_times_mean(g, rng):
    # Poisson(q) quanta, then gain: Var(raw - D) = g^2 q = g * mean. Gain before counting,
    # Poisson(g q), would give Var = mean: this test fails for that order.
    q, dark = 400.0, 100.0
    raw = xray.simulate_exposure(np.full(200_000, q), g, dark, rng)
    signal = raw - dark
    assert signal.mean() == pytest.approx(g * q, rel=0.005)
    assert signal.var() / signal.mean() == pytest.approx(g, rel=0.02)
    # With gain 4 the counted quanta are multiples of 4 raw units: the gain comes after counting.
    if g == 4.0:
        assert np.all(np.mod(signal, 4.0) == 0)


@pytest.mark.formula("xray.detector-model")
def test_exposure_adds_electronic_noise_after_the_gain_and_then_digitises(rng):
    q, g, dark, sigma = 300.0, 3.0, 50.0, 8.0
    raw = xray.simulate_exposure(np.full(200_000, q), g, dark, rng, read_noise_sd=sigma,
                                 bits_stored=12)
    assert np.all(raw == np.round(raw))
    # Var = g^2 q + sigma^2 + 1/12 (rounding): electronic noise is not multiplied by the gain.
    assert raw.var() == pytest.approx(g**2 * q + sigma**2 + 1 / 12, rel=0.02)
    assert raw.mean() == pytest.approx(g * q + dark, rel=0.002)
    # The converter saturates at 2^B - 1 and clips at 0.
    bright = xray.simulate_exposure(np.full(1000, 5000.0), 1.0, 0.0, rng, bits_stored=12)
    assert bright.max() == 4095 and np.all(bright == 4095)
    negative = xray.simulate_exposure(np.zeros(1000), 1.0, 0.0, rng, read_noise_sd=5.0,
                                      bits_stored=12)
    assert negative.min() == 0.0
    # The same seed gives the same frame; the noise-free mean is detector_response.
    a = xray.simulate_exposure(np.full((4, 5), 10.0), 2.0, 1.0, 7, read_noise_sd=1.0)
    np.testing.assert_array_equal(a, xray.simulate_exposure(np.full((4, 5), 10.0), 2.0, 1.0, 7,
                                                            read_noise_sd=1.0))
    many = xray.simulate_exposure(np.full((4000, 20), 50.0), 2.0, 1.0, rng)
    np.testing.assert_allclose(many.mean(axis=0), xray.detector_response(50.0, 2.0, 1.0),
                               rtol=0.01)


@pytest.mark.formula("xray.flat-field")
def test_flat_field_correction_recovers_the_signal_under_a_known_gain_map(rng):
    shape = (50, 60)
    gain, dark = xray.simulate_detector(shape, rng)
    transmitted = rng.uniform(0.05, 1.0, shape)       # the patient's transmission I / I0
    i0 = 4000.0
    raw = xray.detector_response(i0 * transmitted, gain, dark)
    flat = xray.detector_response(np.full(shape, i0), gain, dark)
    corrected = xray.flat_field_correct(raw, flat, dark)
    np.testing.assert_allclose(corrected, transmitted, rtol=1e-12)
    # The gain map itself is (flat - dark) / I0.
    np.testing.assert_allclose((flat - dark) / i0, gain, rtol=1e-12)


@pytest.mark.formula("xray.flat-field")
def test_residual_error_falls_with_the_number_of_averaged_flats(rng):
    shape = (200, 200)
    gain, dark = xray.simulate_detector(shape, rng)
    i0 = 2000.0
    truth = np.full(shape, 0.5)
    raw = xray.detector_response(i0 * truth, gain, dark)          # noise-free patient image
    errors = []
    for n_frames in (1, 16):
        frames = [xray.simulate_exposure(np.full(shape, i0), gain, dark, rng)
                  for _ in range(n_frames)]
        flat = np.mean(frames, axis=0)
        errors.append(np.std(xray.flat_field_correct(raw, flat, dark) - truth))
    # One flat: relative noise 1/sqrt(I0) (quanta are counted before the gain); sixteen: four
    # times less.
    expected_one = 0.5 / np.sqrt(i0)
    assert errors[0] == pytest.approx(expected_one, rel=0.05)
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.08)


@pytest.mark.formula("xray.minmax-display")
def test_minmax_matches_scikit_image_rescale_intensity(rng):
    image = rng.normal(100, 30, (40, 50))
    ours = xray.rescale_for_display(image)
    np.testing.assert_allclose(ours, rescale_intensity(image, out_range=(0.0, 1.0)),
                               atol=1e-14)
    assert ours.min() == 0.0 and ours.max() == 1.0
    np.testing.assert_allclose(xray.rescale_for_display(3 * image - 7), ours, atol=1e-13)


@pytest.mark.formula("xray.minmax-display")
def test_percentile_normalisation_resists_a_hot_pixel(rng):
    image = rng.normal(100, 10, (50, 50))
    lo, hi = np.percentile(image, [1, 99])
    image[3, 3] = 1e6                                   # one defective pixel
    robust = xray.rescale_for_display(image, percentiles=(1, 99))
    lo, hi = np.percentile(image, [1, 99])
    expected = rescale_intensity(image, in_range=(lo, hi), out_range=(0.0, 1.0))
    np.testing.assert_allclose(robust, expected, atol=1e-14)
    assert np.median(xray.rescale_for_display(image)) < 1e-3  # plain min-max: all black
    assert 0.3 < np.median(robust) < 0.7


@pytest.mark.formula("xray.monochrome1")
def test_monochrome1_is_inverted_against_the_stored_range():
    sv = np.array([[0, 100], [32767, 5000]])
    out = xray.to_monochrome2(sv, "MONOCHROME1", 15)
    np.testing.assert_array_equal(out, 32767 - sv)
    np.testing.assert_array_equal(xray.to_monochrome2(sv, "MONOCHROME2", 15), sv)


@pytest.mark.formula("xray.monochrome1")
def test_real_monochrome1_radiograph_agrees_with_pydicom_inverse_up_to_an_offset():
    ds = pydicom.dcmread(data.path("dicom/cr_chest_rg1_half.dcm"))
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    ours = xray.to_monochrome2(ds.pixel_array, ds.PhotometricInterpretation, ds.BitsStored)
    ref = Dataset()
    ref.PresentationLUTShape = "INVERSE"                # pydicom inverts with arr.max() - arr
    theirs = apply_presentation_lut(ds.pixel_array.astype(float), ref)
    offset = ours - theirs
    assert np.all(offset == offset.flat[0])
    assert offset.flat[0] == 2**15 - 1 - ds.pixel_array.max()
    # Anatomy: after inversion the lungs (lateral, mid-height) are darker than the spine.
    rows, cols = ours.shape
    spine = ours[rows // 3:rows // 2, cols // 2 - 20:cols // 2 + 20].mean()
    lung = ours[rows // 3:rows // 2, cols // 4 - 20:cols // 4 + 20].mean()
    assert lung < spine


def test_pixel_spacing_is_unknown_for_the_real_radiograph():
    ds = pydicom.dcmread(data.path("dicom/cr_chest_rg1_half.dcm"))
    assert [float(v) for v in ds.PixelSpacing] == [0.0, 0.0]
    assert xray.pixel_spacing_mm(ds) is None
    known = Dataset()
    known.PixelSpacing = [0.2, 0.3]
    assert xray.pixel_spacing_mm(known) == (0.2, 0.3)
    imager = Dataset()
    imager.PixelSpacing = [0, 0]
    imager.ImagerPixelSpacing = [0.143, 0.143]
    assert xray.pixel_spacing_mm(imager) == (0.143, 0.143)
    assert xray.pixel_spacing_mm(Dataset()) is None


BAD_CALLS = [
    (xray.detector_response, ([1.0], [0.0], [0.0]), {}, ValueError, "gain"),
    (xray.detector_response, ([-1.0], [1.0], [0.0]), {}, ValueError, "signal"),
    (xray.detector_response, (np.ones(3), np.ones(4), 0.0), {}, ValueError, "broadcast"),
    (xray.flat_field_correct, (np.ones(4), np.full(4, 5.0), np.full(4, 5.0)), {}, ValueError,
     "flat must exceed dark"),
    (xray.flat_field_correct, (np.ones(4), np.ones(3), 0.0), {}, ValueError, "broadcast"),
    (xray.flat_field_correct, (np.ones(4), [2.0, np.nan, 2, 2], 0.0), {}, ValueError, "finite"),
    (xray.rescale_for_display, (np.full((3, 3), 7.0),), {}, ValueError, "constant"),
    (xray.to_monochrome2, ([1, 2], "RGB", 8), {}, ValueError, "photometric"),
    (xray.to_monochrome2, ([1, 300], "MONOCHROME1", 8), {}, ValueError, "pixels"),
    (xray.to_monochrome2, ([-1, 2], "MONOCHROME1", 8), {}, ValueError, "pixels"),
    (xray.to_monochrome2, ([1, 2], "MONOCHROME1", 0), {}, ValueError, "bits_stored"),
    (xray.pixel_spacing_mm, ([0.1, 0.1],), {}, TypeError, "Dataset"),
    (xray.simulate_detector, ((4, 4), None), {}, TypeError, "rng"),
    (xray.simulate_detector, ((4, 0), 1), {}, ValueError, "shape"),
    (xray.simulate_exposure, ([-1.0], 1.0, 0.0, 0), {}, ValueError, "photons"),
    (xray.simulate_exposure, ([1.0], 0.0, 0.0, 0), {}, ValueError, "gain"),
    (xray.simulate_exposure, ([1.0], 1.0, 0.0, 0), {"read_noise_sd": -1.0}, ValueError,
     "read_noise_sd"),
    (xray.simulate_exposure, ([1.0], 1.0, 0.0, 0), {"bits_stored": 0}, ValueError, "bits_stored"),
    (xray.simulate_exposure, (np.ones(3), np.ones(4), 0.0, 0), {}, ValueError, "broadcast"),
    (xray.simulate_exposure, ([1.0], 1.0, 0.0, None), {}, TypeError, "rng"),
    (xray.rescale_for_display, (np.arange(10.0),), {"percentiles": (60, 40)}, ValueError,
     "percentiles"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: shape None, of the wrong length or of 2**63 pixels, and photon counts beyond
# NumPy's Poisson sampler, are refused by name
ISSUE_11_CALLS = [
    (xray.simulate_detector, (None, 0), {}, TypeError, "^shape must be a sequence of 2"),
    (xray.simulate_detector, ((), 0), {}, ValueError, "^shape must be a sequence of 2"),
    (xray.simulate_detector, ((4, 5, 6), 0), {}, ValueError, "^shape must be a sequence of 2"),
    (xray.simulate_detector, ((2 ** 63, 5), 0), {}, ValueError, "^shape asks for an array"),
    (xray.simulate_exposure, (np.full(2, 1e300), 1.0, 0.0, 0), {}, ValueError, "^photons"),
]

test_issue_11_shapes_and_counts_are_named = bad_input_test(ISSUE_11_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    p = rng.uniform(0, 3, (6, 5))
    gain, dark = xray.simulate_detector((6, 5), rng)
    raw = assert_inputs_unchanged(xray.detector_response, p, gain, dark)
    flat = gain * 10 + dark
    assert_inputs_unchanged(xray.flat_field_correct, raw, flat, dark)
    assert_inputs_unchanged(xray.rescale_for_display, raw, percentiles=(5, 95))
    sv = rng.integers(0, 4096, (5, 5))
    assert_inputs_unchanged(xray.to_monochrome2, sv, "MONOCHROME1", 12)
    assert_inputs_unchanged(xray.simulate_exposure, p * 100, gain, dark, 0, read_noise_sd=1.0,
                            bits_stored=12)
