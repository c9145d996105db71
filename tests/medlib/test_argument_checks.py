"""Bad input to every public function of medlib: pinned cases and the permanent harness.

The pinned cases (``BAD_CALLS``) name one bad call each. The harness (``tests/badinput.py``)
takes one valid call per public function and class from ``CALLS`` and mutates one argument at a
time with what students type (NaN, +-inf, empty, wrong ndim, complex, bool, strings, None,
huge and tiny values, lists, float32, strided and read-only views), under a per-call deadline
and a memory limit; it also checks purity, determinism and the global random states. A public
function without an entry in ``CALLS`` fails ``test_every_public_function_has_a_valid_call``.

Every case must pass: issue 11's first run found 135 defects beyond the issue's own list, each
kept as a strict expected failure until it was fixed; all are fixed, with regression tests in the
test modules of their functions, and the table of expected failures is gone. A defect found later
is fixed, not tabled.
"""
from __future__ import annotations

import inspect
import signal
import time

import numpy as np
import pytest
from badinput import BAD, CALL_TIMEOUT, C, Entry, public_api, report, run, same_result
from hypothesis import given, settings
from hypothesis import strategies as st

import medlib.dl.losses as losses
from medlib import ct, data, geometry, mri, noise, pet, phantoms
from medlib import ultrasound as us

try:
    from medlib import nn
except ImportError:  # PyTorch missing: the nn entries are skipped
    nn = None

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


# ---------------------------------------------------------------------------------------------
# One valid call per public function and class (small inputs: each call takes milliseconds)
# ---------------------------------------------------------------------------------------------
def vec(n=6, lo=1.0, hi=2.0):
    return np.linspace(lo, hi, n)


def img(n=8, lo=1.0, hi=2.0):
    """A smooth, non-constant, positive n x n image."""
    r, c = np.mgrid[:n, :n]
    return lo + (hi - lo) * (r + 2 * c) / (3 * (n - 1))


def vol(n=6):
    z, r, c = np.mgrid[:n, :n, :n]
    return 1.0 + (z + 2 * r + 3 * c) / (6 * (n - 1))


def mask(n=8):
    r, c = np.mgrid[:n, :n]
    return (r - n / 2) ** 2 + (c - n / 2) ** 2 < (n / 3) ** 2


def mask2(n=8):
    r, c = np.mgrid[:n, :n]
    return (r - n / 2 + 1) ** 2 + (c - n / 2) ** 2 < (n / 3) ** 2


def kspace(n=8):
    return np.fft.fft2(img(n))


def affine3():
    return np.array([[1.0, 0, 0, 2], [0, 1.5, 0, -3], [0, 0, 2.0, 1], [0, 0, 0, 1]])


def rot2():
    t = 0.1
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def theta(n=6):
    return np.linspace(0.0, np.pi, n, endpoint=False)


def ellipses():
    return np.array([[1.0, 0.6, 0.4, 0.1, -0.1, 20.0], [-0.5, 0.2, 0.2, 0.0, 0.1, 0.0]])


def sysmat():
    return pet.system_matrix(8, theta(6))


def events():
    return [mri.pulse(90.0), mri.free(5.0), mri.readout(), mri.spoil(), mri.pulse(90.0),
            mri.free(5.0), mri.readout()]


def fractions():
    return mri.tissue_fractions(img(8, 0.1, 0.5), img(8, 0.2, 0.4).T, mask(8), skull_voxels=1,
                                fat_voxels=1)


def ct_dataset():
    import pydicom
    return pydicom.dcmread(data.path("dicom/ct_head_693.dcm"), stop_before_pixels=True)


def torch_model():
    return nn.tiny_segmenter(2, seed=0)


def toy_images():
    return nn.lesion_task(2, 16, 0)


def bce_loss():
    return nn.numpy_loss(losses.binary_cross_entropy_with_logits,
                         losses.binary_cross_entropy_gradient)


# A relaxation time of np.inf means no relaxation (documented in mri.bloch, the limit elsewhere)
NO_RELAXATION = {"t1_ms": {"inf"}, "t2_ms": {"inf"}}

CALLS = {
    # ct.attenuation
    "ct.attenuation.attenuate": Entry(lambda: C(np.full(3, 100.0), img(3, 0.1, 0.3), 0.5)),
    "ct.attenuation.attenuation_coefficient": Entry(lambda: C("water", 60.0)),
    "ct.attenuation.line_integral": Entry(lambda: C(img(4, 0.1, 0.3), 0.5, axis=-1)),
    "ct.attenuation.log_transform": Entry(lambda: C(vec(5, 10.0, 50.0), 100.0)),
    "ct.attenuation.log_variance": Entry(lambda: C(vec(5, 0.1, 2.0), 1e4, order=1)),
    "ct.attenuation.thorax_ellipses": Entry(lambda: C(60.0)),
    # ct.fbp
    "ct.fbp.backproject": Entry(lambda: C(img(8), theta(8))),
    "ct.fbp.fbp": Entry(lambda: C(img(8), theta(8), "ramp", cutoff=1.0)),
    "ct.fbp.filter_response": Entry(lambda: C(16, "hann", cutoff=0.8)),
    "ct.fbp.filter_sinogram": Entry(lambda: C(img(8), "ramp", cutoff=1.0)),
    "ct.fbp.ramp_kernel": Entry(lambda: C(np.arange(-4, 5))),
    # ct.hu_windowing
    "ct.hu_windowing.clinical_window": Entry(lambda: C(vec(5, -1000.0, 1000.0), "brain")),
    "ct.hu_windowing.hu_from_mu": Entry(lambda: C(vec(5, 0.0, 0.4), 0.2, mu_air=0.0)),
    "ct.hu_windowing.hu_from_stored": Entry(lambda: C(np.arange(5) * 100, 1.0, -1024.0)),
    "ct.hu_windowing.mu_from_hu": Entry(lambda: C(vec(5, -1000.0, 1000.0), 0.2, mu_air=0.0)),
    "ct.hu_windowing.window": Entry(lambda: C(vec(5, -200.0, 200.0), 40.0, 400.0)),
    # ct.radon
    "ct.radon.circle_mask": Entry(lambda: C(8)),
    "ct.radon.detector_positions": Entry(lambda: C(8)),
    "ct.radon.pad_to_circle": Entry(lambda: C(img(6))),
    "ct.radon.pixel_positions": Entry(lambda: C(8)),
    "ct.radon.radon": Entry(lambda: C(img(8) * mask(8), theta(6))),
    "ct.radon.radon_ellipses": Entry(lambda: C(ellipses(), theta(6), 8)),
    # data (the files of data/: the valid call reads the manifest's smallest entry)
    "data.DataFileError": Entry(lambda: C("message"), mutate=False),  # an exception class
    "data.data_dir": Entry(lambda: C()),
    "data.manifest": Entry(lambda: C()),
    "data.path": Entry(lambda: C("dicom/ct_head_693.dcm")),
    "data.verify_all": Entry(lambda: C()),
    # dl.convolution
    "dl.convolution.conv2d": Entry(lambda: C(img(6)[None, None], img(3)[None, None],
                                             np.array([0.5]), stride=1, padding=1, dilation=1)),
    "dl.convolution.conv3d": Entry(lambda: C(vol(5)[None, None], vol(3)[None, None],
                                             np.array([0.5]), stride=1, padding=1)),
    "dl.convolution.conv_layer": Entry(lambda: C(img(6)[None, None], img(3)[None, None],
                                                 np.array([0.5]), stride=1, padding=1)),
    "dl.convolution.output_size": Entry(lambda: C(16, 3, stride=2, padding=1, dilation=1)),
    # dl.losses
    "dl.losses.binary_cross_entropy": Entry(lambda: C(vec(4, 0.1, 0.9), np.array([0.0, 1, 1, 0]),
                                                      reduction="mean")),
    "dl.losses.binary_cross_entropy_gradient": Entry(
        lambda: C(vec(4, -2.0, 2.0), np.array([0.0, 1, 1, 0]), pos_weight=2.0, reduction="mean")),
    "dl.losses.binary_cross_entropy_with_logits": Entry(
        lambda: C(vec(4, -2.0, 2.0), np.array([0.0, 1, 1, 0]), pos_weight=2.0, reduction="mean")),
    "dl.losses.cross_entropy": Entry(lambda: C(img(3, -1.0, 1.0), np.array([0, 2, 1]), axis=1,
                                               reduction="mean")),
    "dl.losses.cross_entropy_gradient": Entry(lambda: C(img(3, -1.0, 1.0), np.array([0, 2, 1]),
                                                        axis=1, reduction="mean")),
    "dl.losses.focal_loss": Entry(lambda: C(vec(4, -2.0, 2.0), np.array([0.0, 1, 1, 0]),
                                            gamma=2.0, alpha=0.25, reduction="mean")),
    "dl.losses.focal_loss_gradient": Entry(lambda: C(vec(4, -2.0, 2.0), np.array([0.0, 1, 1, 0]),
                                                     gamma=2.0, alpha=0.25, reduction="mean")),
    "dl.losses.hard_dice_loss": Entry(lambda: C(vec(4, 0.1, 0.9), np.array([0.0, 1, 1, 0]),
                                                threshold=0.5)),
    "dl.losses.log_sigmoid": Entry(lambda: C(vec(5, -3.0, 3.0))),
    "dl.losses.log_softmax": Entry(lambda: C(img(3, -1.0, 1.0), axis=1)),
    "dl.losses.soft_dice_loss": Entry(lambda: C(vec(4, 0.1, 0.9), np.array([0.0, 1, 1, 0]),
                                                smooth=1.0)),
    "dl.losses.soft_dice_loss_gradient": Entry(lambda: C(vec(4, 0.1, 0.9),
                                                         np.array([0.0, 1, 1, 0]), smooth=1.0)),
    # dl.metrics
    "dl.metrics.ConfidenceInterval": Entry(lambda: C(0.5, 0.4, 0.6), mutate=False),  # a record
    "dl.metrics.ConfusionCounts": Entry(lambda: C(3, 1, 2, 10), mutate=False),  # a result record
    "dl.metrics.bootstrap_ci": Entry(lambda: C(vec(6, 0.2, 0.9), 0, n_resamples=200)),
    "dl.metrics.binary_counts": Entry(lambda: C(mask(8), mask2(8))),
    "dl.metrics.confusion_matrix": Entry(lambda: C(np.array([0, 1, 2, 1]), np.array([0, 2, 2, 1]),
                                                   n_classes=3)),
    "dl.metrics.dice": Entry(lambda: C(mask(8), mask2(8), empty_score=1.0),
                             valid={"empty_score": {"nan"}}),  # documented: MONAI's convention
    "dl.metrics.dice_from_iou": Entry(lambda: C(vec(4, 0.1, 0.9))),
    "dl.metrics.iou": Entry(lambda: C(mask(8), mask2(8), empty_score=1.0),
                            valid={"empty_score": {"nan"}}),  # documented: MONAI's convention
    "dl.metrics.iou_from_dice": Entry(lambda: C(vec(4, 0.1, 0.9))),
    "dl.metrics.precision": Entry(lambda: C(mask(8), mask2(8), zero_division=0.0)),
    "dl.metrics.sensitivity": Entry(lambda: C(mask(8), mask2(8), zero_division=0.0)),
    "dl.metrics.specificity": Entry(lambda: C(mask(8), mask2(8), zero_division=0.0)),
    # geometry
    "geometry.apply_affine": Entry(lambda: C(rot2(), np.array([1.0, -2.0]), img(3)[:, :2])),
    "geometry.dicom_affine": Entry(lambda: C(np.array([1.0, 0, 0, 0, 1, 0]),
                                             np.array([-100.0, -120.0, 30.0]),
                                             np.array([0.8, 0.7]), 2.5)),
    "geometry.flip_affine": Entry(lambda: C(affine3(), (4, 5, 6), 1)),
    "geometry.homogeneous": Entry(lambda: C(rot2(), np.array([1.0, -2.0]))),
    "geometry.invert_homogeneous": Entry(lambda: C(affine3())),
    "geometry.lps_to_ras": Entry(lambda: C(affine3())),
    "geometry.rotation_matrix": Entry(lambda: C(0.3, "z")),
    "geometry.scaling_matrix": Entry(lambda: C(np.array([1.0, 2.0, 0.5]))),
    "geometry.slice_geometry": Entry(lambda: C(
        np.array([[0.0, 0, 5.0], [0, 0, 0], [0, 0, 2.5]]), np.array([1.0, 0, 0, 0, 1, 0]),
        rtol=0.01)),
    "geometry.transpose_affine": Entry(lambda: C(affine3(), (2, 0, 1))),
    "geometry.voxel_spacing": Entry(lambda: C(affine3())),
    "geometry.voxel_to_world": Entry(lambda: C(affine3(), img(3))),
    "geometry.world_to_voxel": Entry(lambda: C(affine3(), img(3))),
    # mri.bloch
    "mri.bloch.BlochResult": Entry(lambda: C(np.zeros(3), np.zeros((1, 3)), np.zeros(1)),
                                   mutate=False),  # a result record
    # the event records; mri.free and mri.pulse build them with validation
    "mri.bloch.Free": Entry(lambda: C(5.0), mutate=False),
    "mri.bloch.Pulse": Entry(lambda: C(90.0, "x"), mutate=False),
    "mri.bloch.Readout": Entry(lambda: C()),
    "mri.bloch.Spoil": Entry(lambda: C()),
    "mri.bloch.bloch_simulate": Entry(lambda: C(events(), 900.0, 80.0, m0=1.0,
                                                off_resonance_hz=10.0), valid=NO_RELAXATION),
    "mri.bloch.ernst_angle_deg": Entry(lambda: C(10.0, 900.0), valid=NO_RELAXATION),
    "mri.bloch.free": Entry(lambda: C(5.0)),
    "mri.bloch.free_precession": Entry(lambda: C(np.array([1.0, 0.0, 0.0]), 2.5, 900.0, 80.0,
                                                 m0=1.0, off_resonance_hz=10.0),
                                       valid=NO_RELAXATION),
    "mri.bloch.inversion_null_time": Entry(lambda: C(900.0, tr_ms=3000.0),
                                           valid={"t1_ms": {"inf"}}),  # issue 11, group 5
    "mri.bloch.inversion_recovery": Entry(lambda: C(vec(4, 100.0, 900.0), 900.0, m0=1.0,
                                                    tr_ms=3000.0), valid=NO_RELAXATION),
    "mri.bloch.larmor_frequency_mhz": Entry(lambda: C(3.0, "1H")),
    "mri.bloch.lorentzian_off_resonance": Entry(lambda: C(8, 20.0)),
    "mri.bloch.pulse": Entry(lambda: C(90.0, "x")),
    "mri.bloch.readout": Entry(lambda: C()),
    "mri.bloch.rf_rotation": Entry(lambda: C(90.0, "x")),
    "mri.bloch.spoil": Entry(lambda: C()),
    "mri.bloch.spoiled_gre_signal": Entry(lambda: C(10.0, 15.0, 900.0, te_ms=2.0, t2star_ms=40.0,
                                                    pd=1.0), valid=NO_RELAXATION),
    # mri.kspace
    "mri.kspace.crop_kspace": Entry(lambda: C(kspace(8), (4, 4))),
    "mri.kspace.decimate_kspace": Entry(lambda: C(kspace(8), 2, axis=0)),
    "mri.kspace.hermitian_fill": Entry(lambda: C(kspace(8) * (np.arange(8) < 5)[:, None],
                                                 np.broadcast_to((np.arange(8) < 5)[:, None],
                                                                 (8, 8)).copy())),
    "mri.kspace.image_coordinates": Entry(lambda: C(8, 1.5)),
    "mri.kspace.kspace_coordinates": Entry(lambda: C(8, 1.5)),
    "mri.kspace.kspace_forward": Entry(lambda: C(img(8), 1.5)),
    "mri.kspace.kspace_inverse": Entry(lambda: C(kspace(8), 1.5)),
    "mri.kspace.partial_fourier_mask": Entry(lambda: C((8, 8), 0.6, axis=0)),
    "mri.kspace.random_mask": Entry(lambda: C((16, 8), 2.0, 0, axis=0, center_lines=2)),
    "mri.kspace.regular_mask": Entry(lambda: C((16, 8), 2, axis=0, center_lines=2, offset=0)),
    "mri.kspace.truncate_kspace": Entry(lambda: C(kspace(8), (4, 4))),
    "mri.kspace.zero_fill": Entry(lambda: C(kspace(8), (12, 12))),
    # mri.relaxation
    "mri.relaxation.Tissue": Entry(lambda: C("wm", 800.0, 70.0, 0.7, "test"),
                                   mutate=False),  # a record of literature values
    "mri.relaxation.spin_echo_image": Entry(lambda: C(fractions(), mri.tissue_parameters(3.0),
                                                      2500.0, 100.0, exact=False)),
    "mri.relaxation.spin_echo_signal": Entry(lambda: C(2500.0, 100.0, 900.0, 80.0, pd=1.0),
                                             valid=NO_RELAXATION),
    "mri.relaxation.spin_echo_signal_exact": Entry(lambda: C(2500.0, 100.0, 900.0, 80.0, pd=1.0),
                                                   valid=NO_RELAXATION),
    "mri.relaxation.t1_recovery": Entry(lambda: C(vec(4, 0.0, 900.0), 900.0, m0=1.0, mz0=0.0),
                                        valid=NO_RELAXATION),
    "mri.relaxation.t2_decay": Entry(lambda: C(vec(4, 0.0, 90.0), 80.0, mxy0=1.0),
                                     valid=NO_RELAXATION),
    "mri.relaxation.tissue_fractions": Entry(lambda: C(img(8, 0.1, 0.5), img(8, 0.2, 0.4).T,
                                                       mask(8), skull_voxels=1, fat_voxels=1)),
    "mri.relaxation.tissue_parameters": Entry(lambda: C(3.0)),
    # nn (PyTorch)
    "nn.networks.tiny_segmenter": Entry(lambda: C(2, seed=0)),
    "nn.toy_tasks.lesion_task": Entry(lambda: C(2, 16, 0, lesions_per_image=1.5,
                                                radius_px=(1.5, 3.5), contrast=1.0,
                                                noise_sigma=0.6)),
    "nn.training.numpy_loss": Entry(lambda: C(losses.binary_cross_entropy_with_logits,
                                              losses.binary_cross_entropy_gradient)),
    "nn.training.predict": Entry(lambda: C(torch_model(), toy_images()[0])),
    "nn.training.train": Entry(lambda: C(torch_model(), *toy_images(), bce_loss(), steps=2,
                                         lr=0.01, on="logits"),
                                 mutable={"model"}),  # train trains the model it is given
    # noise
    "noise.add_gaussian_noise": Entry(lambda: C(img(6), 0.1, 0)),
    "noise.noise_power_spectrum": Entry(lambda: C(vol(6), 1.0, n_bins=4)),
    "noise.poisson_noise": Entry(lambda: C(img(6, 5.0, 20.0), 0)),
    "noise.rician_magnitude": Entry(lambda: C(img(6), 0.1, 0)),
    "noise.rician_mean": Entry(lambda: C(vec(4, 0.0, 3.0), 1.0)),
    "noise.rician_pdf": Entry(lambda: C(vec(4, 0.0, 3.0), 1.0, 0.5)),
    "noise.sigma_from_background": Entry(lambda: C(img(6, 0.5, 2.0))),
    "noise.snr": Entry(lambda: C(img(6), axis=0)),
    # notebook
    "notebook.Source": Entry(lambda: C("x = 1\n", "medlib/x.py", 1, 1, "x", True),
                             mutate=False),  # a result record
    "notebook.show_source": Entry(lambda: C(noise.snr, docstring=False)),
    # pet.decay
    "pet.decay.Nuclide": Entry(lambda: C(6586.2, 0.6, "test"), mutate=False),  # a record
    "pet.decay.activity": Entry(lambda: C(vec(4, 1e6, 2e6), half_life_s=6586.2)),
    "pet.decay.decay": Entry(lambda: C(1e6, vec(4, 0.0, 7200.0), half_life_s=6586.2)),
    "pet.decay.decay_constant": Entry(lambda: C(6586.2)),
    "pet.decay.decay_correction": Entry(lambda: C(vec(4, 0.0, 7200.0), half_life_s=6586.2,
                                                  frame_duration_s=60.0)),
    "pet.decay.half_life": Entry(lambda: C(1e-4)),
    # pet.forward_model
    "pet.forward_model.brain_phantom": Entry(lambda: C(img(16, 0.0, 1.0), img(16, 0.0, 1.0).T,
                                                       n=8, grey_activity=4.0,
                                                       white_activity=1.0)),
    "pet.forward_model.expected_counts": Entry(lambda: C(sysmat(), mask(8).ravel() * 2.0, 0.1)),
    "pet.forward_model.sample_counts": Entry(lambda: C(vec(6, 1.0, 20.0), 0)),
    "pet.forward_model.scale_to_counts": Entry(lambda: C(sysmat(), mask(8).ravel() * 2.0, 1e4,
                                                         background_fraction=0.1)),
    "pet.forward_model.system_matrix": Entry(lambda: C(8, theta(6))),
    # pet.mlem_osem
    "pet.mlem_osem.likelihood": Entry(lambda: C(np.array([1.0, 2, 0, 3]), vec(4, 0.5, 3.0))),
    "pet.mlem_osem.log_likelihood": Entry(lambda: C(np.array([1.0, 2, 0, 3]), vec(4, 0.5, 3.0),
                                                    constant=True)),
    "pet.mlem_osem.mlem": Entry(lambda: C(np.round(sysmat() @ (mask(8).ravel() * 5.0)), sysmat(),
                                          3, 0.1)),
    "pet.mlem_osem.osem": Entry(lambda: C(np.round(sysmat() @ (mask(8).ravel() * 5.0)), sysmat(),
                                          2, 2, 0.1, n_angles=6)),
    # phantoms
    "phantoms.ellipse_phantom": Entry(lambda: C(ellipses(), (8, 8), oversample=2)),
    "phantoms.shepp_logan": Entry(lambda: C(16, modified=True, oversample=1)),
    "phantoms.shepp_logan_ellipses": Entry(lambda: C(modified=True)),
    "phantoms.zone_plate": Entry(lambda: C(16, max_frequency=0.5)),
    # plotting
    "plotting.use_course_style": Entry(lambda: C()),
    # processing.filtering
    "processing.filtering.filtered_noise_std": Entry(lambda: C(img(3, -1.0, 1.0), 1.0)),
    "processing.filtering.gaussian_filter": Entry(lambda: C(img(8), 1.0, truncate=4.0)),
    "processing.filtering.gaussian_kernel_1d": Entry(lambda: C(1.0, truncate=4.0,
                                                               normalize=True)),
    "processing.filtering.gaussian_kernel_2d": Entry(lambda: C(1.0, truncate=4.0,
                                                               normalize=True)),
    "processing.filtering.gradient_magnitude": Entry(lambda: C(img(8))),
    "processing.filtering.laplacian": Entry(lambda: C(img(8))),
    "processing.filtering.laplacian_kernel": Entry(lambda: C(2)),
    "processing.filtering.laplacian_sharpen": Entry(lambda: C(img(8), 1.0)),
    "processing.filtering.sobel_gradients": Entry(lambda: C(img(8))),
    "processing.filtering.sobel_kernels": Entry(lambda: C()),
    "processing.filtering.unsharp_mask": Entry(lambda: C(img(8), 1.0, 1.0, truncate=4.0)),
    # processing.normalization
    "processing.normalization.cdf": Entry(lambda: C(np.arange(16).reshape(4, 4) % 8, 8)),
    "processing.normalization.equalize_histogram": Entry(lambda: C(np.arange(16).reshape(4, 4)
                                                                   % 8, 8)),
    "processing.normalization.fit_minmax": Entry(lambda: C(img(6), percentiles=(1.0, 99.0))),
    "processing.normalization.fit_zscore": Entry(lambda: C(img(6))),
    "processing.normalization.histogram": Entry(lambda: C(np.arange(16).reshape(4, 4) % 8, 8)),
    "processing.normalization.minmax_normalize": Entry(lambda: C(img(6), 1.0, 2.0, clip=False)),
    "processing.normalization.quantize": Entry(lambda: C(img(6), 8, 1.0, 2.0)),
    "processing.normalization.zscore_normalize": Entry(lambda: C(img(6), 1.5, 0.3)),
    # processing.resampling
    "processing.resampling.affine_resample": Entry(lambda: C(img(8), rot2(), np.array([0.5, -0.5]),
                                                             (6, 7), order=1, mode="constant",
                                                             cval=0.0), valid={"cval": {"nan"}}),
    "processing.resampling.interpolate_nearest": Entry(lambda: C(img(6), img(3, 0.0, 5.0)[:2],
                                                                 cval=0.0),
                                                       valid={"cval": {"nan"}}),
    "processing.resampling.mask_volume_ml": Entry(lambda: C(mask(8)[None].repeat(2, 0),
                                                            np.array([1.0, 0.5, 0.5]))),
    "processing.resampling.resample_to_spacing": Entry(lambda: C(vol(6), affine3(),
                                                                 np.array([2.0, 2.0, 2.0]),
                                                                 order=1)),
    # sampling
    "sampling.antialias_downsample": Entry(lambda: C(vec(16), 2, sigma=1.0, axis=None)),
    "sampling.circular_convolve": Entry(lambda: C(vec(8), vec(8, -1.0, 1.0))),
    "sampling.continuous_fourier": Entry(lambda: C(vec(8), 0.1, t0=-0.4)),
    "sampling.convolve": Entry(lambda: C(vec(8), np.array([0.25, 0.5, 0.25]), mode="full",
                                         boundary="fill")),
    "sampling.convolve_continuous": Entry(lambda: C(vec(8), vec(5), 0.1, t0_f=-0.4, t0_g=0.0)),
    "sampling.correlate": Entry(lambda: C(vec(8), np.array([0.25, 0.5, 0.25]), mode="full",
                                          boundary="fill")),
    "sampling.dft": Entry(lambda: C(vec(8), axis=-1)),
    "sampling.downsample": Entry(lambda: C(vec(16), 2, axis=None)),
    "sampling.fft_convolve": Entry(lambda: C(vec(8), vec(5), mode="linear")),
    "sampling.idft": Entry(lambda: C(np.fft.fft(vec(8)), axis=-1)),
    "sampling.interpolate_linear": Entry(lambda: C(img(6), img(3, 0.0, 5.0)[:2], cval=0.0),
                                         valid={"cval": {"nan"}}),
    "sampling.triangle_kernel": Entry(lambda: C(3)),
    "sampling.upsample": Entry(lambda: C(vec(8), 2, axis=None)),
    # ultrasound.bmode
    "ultrasound.bmode.analytic_signal": Entry(lambda: C(np.sin(vec(32, 0.0, 20.0)), axis=-1)),
    "ultrasound.bmode.apply_tgc": Entry(lambda: C(img(6), vec(6, 0.0, 20.0), axis=-1)),
    "ultrasound.bmode.cartesian_to_sector": Entry(lambda: C(vec(4, -0.01, 0.01),
                                                            vec(4, 0.02, 0.05))),
    "ultrasound.bmode.db_compress": Entry(lambda: C(img(6), dynamic_range_db=60.0,
                                                    reference=2.0, normalize=False)),
    "ultrasound.bmode.envelope": Entry(lambda: C(np.sin(vec(32, 0.0, 20.0)), axis=-1)),
    "ultrasound.bmode.gaussian_pulse": Entry(lambda: C(vec(16, -1e-6, 1e-6), 5e6, 0.6,
                                                       bandwidth_reference_db=-6.0)),
    "ultrasound.bmode.gaussian_pulse_envelope": Entry(lambda: C(vec(16, -1e-6, 1e-6), 5e6, 0.6,
                                                                bandwidth_reference_db=-6.0)),
    "ultrasound.bmode.log_compress": Entry(lambda: C(img(6), gain=1.0)),
    "ultrasound.bmode.scan_convert": Entry(lambda: C(img(6), vec(6, -0.5, 0.5),
                                                     vec(6, 0.0, 0.05), pixel_size_m=5e-3,
                                                     fill=0.0), valid={"fill": {"nan"}}),
    "ultrasound.bmode.sector_to_cartesian": Entry(lambda: C(vec(4, -0.5, 0.5),
                                                            vec(4, 0.02, 0.05))),
    "ultrasound.bmode.simulate_rf": Entry(lambda: C(np.array([0.002, 0.003]), np.array([1.0, 0.5]),
                                                    fs_hz=40e6, n_samples=200,
                                                    center_frequency_hz=5e6)),
    "ultrasound.bmode.speckle_snr": Entry(lambda: C(img(6))),
    "ultrasound.bmode.tgc_gain_db": Entry(lambda: C(vec(4, 0.0, 0.05), 0.5, 5.0, exponent=1.0)),
    # ultrasound.echoes
    "ultrasound.echoes.attenuate": Entry(lambda: C(vec(4), 0.1, vec(4, 0.0, 5.0))),
    "ultrasound.echoes.attenuate_db": Entry(lambda: C(vec(4, 0.0, -10.0), 0.5, vec(4, 0.0, 5.0))),
    "ultrasound.echoes.attenuation_db": Entry(lambda: C(0.5, 5.0, vec(4, 0.0, 5.0),
                                                        round_trip=True, exponent=1.0)),
    "ultrasound.echoes.db_to_neper": Entry(lambda: C(vec(4, 0.1, 1.0))),
    "ultrasound.echoes.impedance": Entry(lambda: C(vec(4, 1000.0, 1900.0),
                                                   vec(4, 1450.0, 4000.0))),
    "ultrasound.echoes.neper_to_db": Entry(lambda: C(vec(4, 0.01, 0.1))),
    "ultrasound.echoes.reflection_coefficient": Entry(lambda: C(vec(4, 1.5e6, 1.7e6),
                                                                vec(4, 1.6e6, 7.0e6),
                                                                kind="intensity")),
    "ultrasound.echoes.tissue_attenuation_db": Entry(lambda: C("liver", 5.0, vec(4, 0.0, 5.0),
                                                               round_trip=True)),
    "ultrasound.echoes.transmission_coefficient": Entry(lambda: C(vec(4, 1.5e6, 1.7e6),
                                                                  vec(4, 1.6e6, 7.0e6),
                                                                  kind="intensity")),
    # ultrasound.waves
    "ultrasound.waves.Tissue": Entry(lambda: C(1540.0, 1060.0, 0.5, (1500.0, 1600.0), 1.0),
                                     mutate=False),  # a record of literature values
    "ultrasound.waves.echo_depth": Entry(lambda: C(vec(4, 0.0, 1e-4), 1540.0)),
    "ultrasound.waves.echo_time": Entry(lambda: C(vec(4, 0.0, 0.1), 1540.0)),
    "ultrasound.waves.pressure_wave": Entry(lambda: C(vec(4, 0.0, 1e-3), 1e-7, amplitude_pa=1e5,
                                                      frequency_hz=5e6, speed_m_per_s=1540.0)),
    "ultrasound.waves.tissue": Entry(lambda: C("liver")),
    "ultrasound.waves.wavelength": Entry(lambda: C(1540.0, 5e6)),
    # xray.flat_field
    "xray.flat_field.detector_response": Entry(lambda: C(img(6, 100.0, 200.0), img(6, 0.9, 1.1).T,
                                                         img(6, 90.0, 110.0))),
    "xray.flat_field.flat_field_correct": Entry(lambda: C(img(6, 300.0, 400.0),
                                                          img(6, 900.0, 1100.0).T,
                                                          img(6, 90.0, 110.0))),
    "xray.flat_field.pixel_spacing_mm": Entry(lambda: C(ct_dataset())),
    "xray.flat_field.rescale_for_display": Entry(lambda: C(img(6), percentiles=(1.0, 99.0))),
    "xray.flat_field.simulate_detector": Entry(lambda: C((6, 5), 0, pixel_gain_sd=0.05,
                                                         column_gain_sd=0.03, falloff=0.15,
                                                         dark_mean=100.0, dark_sd=10.0)),
    "xray.flat_field.simulate_exposure": Entry(lambda: C(img(6, 100.0, 200.0), img(6, 0.9, 1.1),
                                                         img(6, 90.0, 110.0), 0,
                                                         read_noise_sd=1.0, bits_stored=12)),
    "xray.flat_field.to_monochrome2": Entry(lambda: C(np.arange(16).reshape(4, 4) * 100,
                                                      "MONOCHROME1", 12)),
    # xray.projection
    "xray.projection.drr": Entry(lambda: C(vol(6) * 100.0, 1.5, axis=1, mu_water_per_cm=0.2)),
    "xray.projection.slab_transmission": Entry(lambda: C(0.2, vec(4, 0.0, 5.0), 1.0)),
    "xray.projection.transmission": Entry(lambda: C(vec(4, 0.0, 3.0), 1.0)),
}

def calls_beside_their_tests() -> dict[str, Entry]:
    """The valid calls that test modules declare themselves, as ``BAD_INPUT_CALLS``.

    Parts II to IV keep the valid call of each public function in the test module of its
    ``medlib`` module (``tests/medlib/prep/test_n4.py`` holds those of ``medlib.prep.n4``), beside
    the function's other tests; this table and theirs must not name the same function twice.
    """
    import importlib.util
    from pathlib import Path

    here = Path(__file__).resolve()
    found: dict[str, Entry] = {}
    for path in sorted(here.parent.rglob("test_*.py")):
        if path == here or "BAD_INPUT_CALLS" not in path.read_text(encoding="utf-8"):
            continue
        name = "_bad_input_calls_" + "_".join(path.relative_to(here.parent).with_suffix("").parts)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError as exc:  # a torch test module on a machine without PyTorch
            if "torch" in str(exc).lower() or getattr(exc, "name", None) == "torch":
                continue
            raise
        twice = sorted(set(found) & set(module.BAD_INPUT_CALLS))
        assert not twice, f"{path.name} declares valid calls declared elsewhere: {twice}"
        found.update(module.BAD_INPUT_CALLS)
    return found


_BESIDE = calls_beside_their_tests()
assert not set(_BESIDE) & set(CALLS), sorted(set(_BESIDE) & set(CALLS))
CALLS.update(_BESIDE)


# ---------------------------------------------------------------------------------------------
# The harness's tests
# ---------------------------------------------------------------------------------------------
API = public_api()


def test_every_public_function_has_a_valid_call():
    missing = sorted(set(API) - set(CALLS))
    assert not missing, (
        "public functions without a valid call in CALLS (tests/medlib/test_argument_checks.py) or "
        "in BAD_INPUT_CALLS of their test module: "
        + ", ".join(missing))


def test_every_entry_names_a_public_function():
    torch_free = [k for k in CALLS if not (nn is None and k.startswith("nn."))]
    unknown = sorted(set(torch_free) - set(API))
    assert not unknown, "CALLS entries naming no public function: " + ", ".join(unknown)


@pytest.mark.parametrize("name", sorted(k for k in CALLS if k in API))
def test_public_function_survives_bad_input(name):
    outcomes = run(API[name], CALLS[name], name)
    bad = [o for o in outcomes if o.bad]
    assert not bad, f"{len(bad)} bad outcome(s):\n" + report(bad)


SEEDED = sorted(k for k in CALLS if k in API and inspect.isfunction(API[k])
                and "rng" in inspect.signature(API[k]).parameters)


@pytest.mark.parametrize("name", SEEDED)
@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2 ** 63 - 1))
def test_a_seed_gives_one_result_and_the_same_as_its_generator(name, seed):
    func, entry = API[name], CALLS[name]

    def call(rng):
        args, kwargs = entry.factory()
        bound = inspect.signature(func).bind(*args, **kwargs)
        bound.arguments["rng"] = rng
        return func(*bound.args, **bound.kwargs)

    first = call(seed)
    assert same_result(first, call(seed)), f"{name}: rng={seed} twice gave two results"
    assert same_result(first, call(np.random.default_rng(seed))), (
        f"{name}: rng={seed} and np.random.default_rng({seed}) disagree")


# ---------------------------------------------------------------------------------------------
# The harness can fail: deliberately bad toy functions, each classified as it deserves
# ---------------------------------------------------------------------------------------------
def _checked(x, name="x"):
    """The validation a good medlib function does, for the toys."""
    from medlib._validate import as_array
    return as_array(x, name)


def toy_good(x, sigma: float):
    from medlib._validate import as_scalar
    return _checked(x) * as_scalar(sigma, "sigma", low=0.0, low_inclusive=False)


def toy_nan_through(x):
    """No validation: NaN in, NaN out."""
    return np.asarray(x, dtype=float) * 2.0


def toy_index_error(x, axis: int = 0):
    """Looks the axis up without checking it."""
    arr = _checked(x)
    return arr.sum(axis=axis) / arr.shape[axis]


def toy_modifies_input(x):
    x *= 2.0
    return x.copy()


def toy_unseeded(x, rng):
    """Ignores its rng and draws from fresh entropy."""
    return _checked(x) + np.random.default_rng().normal()


def toy_sleeps(x, n: int):
    """A loop in Python that a huge n never finishes (SIGALRM interrupts it)."""
    from medlib._validate import as_int
    arr, count = _checked(x), 0
    while count < as_int(n, "n", low=1):
        count += 1
    return arr


def toy_stuck_in_c(x, n: int):
    """Ignores SIGALRM, as a long call into C code does: only the parent's kill stops it."""
    from medlib._validate import as_int
    arr = _checked(x)
    if as_int(n, "n", low=1) > 100:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(CALL_TIMEOUT + 60)
    return arr


def toy_allocates(x, n: int):
    from medlib._validate import as_int
    return np.ones((as_int(n, "n", low=1), 8), dtype=np.uint8) + _checked(x)[:1, None]


def toy_unnamed(x, sigma: float):
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError("must be positive and finite")
    return _checked(x) * sigma


def toy_float32_differs(x):
    arr = np.asarray(x)
    return _checked(x) * (2.0 if arr.dtype == np.float64 else 3.0)


def toy_tiny_nan(x, sigma: float):
    from medlib._validate import as_scalar
    s = np.float64(as_scalar(sigma, "sigma", low=0.0, low_inclusive=False))
    return _checked(x) * np.exp(-1.0 / s ** 2) / s ** 2  # 0 * inf for tiny sigma


def toy_wraps_around(x, n: int):
    """A size that overflows int64 and wraps to an empty slice (as np.arange(2**63) would)."""
    from medlib._validate import as_int
    k = as_int(n, "n", low=1)
    return np.resize(_checked(x), k if k < 2 ** 62 else 0)


def toy_touches_global_state(x):
    np.random.seed(0)  # noqa: NPY002 - the defect this toy has
    return _checked(x)


X = np.array([1.0, 2.0, 3.0])


def _outcomes(func, factory, **options):
    return {(o.argument, o.mutation): o.outcome for o in
            run(func, Entry(factory, **options), func.__name__)}


def test_a_good_toy_passes_every_case():
    outcomes = _outcomes(toy_good, lambda: C(X.copy(), 0.5))
    assert not {k: v for k, v in outcomes.items() if v in BAD}
    assert outcomes[("sigma", "nan")] == outcomes[("x", "string")] == "named-error"
    assert outcomes[("x", "float32")] == outcomes[("x", "read-only")] == "same-result"
    assert outcomes[("-", "valid-call")] == "ok"


def test_nan_passed_through_is_invalid_input_accepted():
    outcomes = _outcomes(toy_nan_through, lambda: C(X.copy()))
    assert outcomes[("x", "nan")] == outcomes[("x", "inf")] == "accepted-invalid"
    assert outcomes[("x", "string")] == "unnamed-error"  # NumPy's float('abc') message
    assert outcomes[("x", "none")] == "accepted-invalid"  # np.asarray(None, float) is NaN


def test_an_unchecked_axis_is_another_exception():
    outcomes = _outcomes(toy_index_error, lambda: C(X.copy(), axis=0))
    assert outcomes[("axis", "huge")] == "other-exception"
    assert outcomes[("axis", "fraction")] == "unnamed-error"  # TypeError: tuple indices ...


def test_a_function_that_modifies_its_input_is_impure():
    outcomes = _outcomes(toy_modifies_input, lambda: C(X.copy()))
    assert outcomes[("-", "valid-call")] == "impure"
    assert outcomes[("x", "strided")] == "impure"
    assert outcomes[("x", "read-only")] == "refused-valid"  # ValueError: read-only


def test_an_unseeded_result_is_nondeterministic():
    outcomes = _outcomes(toy_unseeded, lambda: C(X.copy(), 0))
    assert outcomes[("-", "valid-call")] == "nondeterministic"
    assert outcomes[("rng", "generator")] == "different-result"


def test_a_call_past_the_deadline_is_a_hang():
    start = time.monotonic()
    outcomes = _outcomes(toy_sleeps, lambda: C(X.copy(), 3))
    assert outcomes[("n", "huge")] == "hang"
    assert outcomes[("n", "string")] == "named-error"  # the worker went on after the hang
    assert time.monotonic() - start < 4 * CALL_TIMEOUT + 10


def test_a_call_stuck_in_c_code_is_killed_and_the_others_still_run():
    outcomes = _outcomes(toy_stuck_in_c, lambda: C(X.copy(), 3))
    assert outcomes[("n", "huge")] == "hang"
    assert outcomes[("n", "numpy-int")] == "same-result"  # run by a restarted worker
    assert outcomes[("x", "nan")] == "named-error"


def test_a_runaway_allocation_meets_the_memory_limit():
    outcomes = _outcomes(toy_allocates, lambda: C(X.copy(), 3))
    assert outcomes[("n", "huge")] in {"memory", "unnamed-error"}  # NumPy: too large / MemoryError
    big = [o for o in run(toy_allocates, Entry(lambda: C(X.copy(), 2 ** 32)), "toy_allocates")
           if o.mutation == "valid-call"]
    assert [o.outcome for o in big] == ["memory"]  # 32 GiB under a 1 GiB limit


def test_an_error_that_does_not_name_the_argument_is_unnamed():
    outcomes = _outcomes(toy_unnamed, lambda: C(X.copy(), 0.5))
    assert outcomes[("sigma", "nan")] == outcomes[("sigma", "-inf")] == "unnamed-error"


def test_a_valid_alternative_with_another_result_is_caught():
    outcomes = _outcomes(toy_float32_differs, lambda: C(X.copy()))
    assert outcomes[("x", "float32")] == "different-result"
    assert outcomes[("x", "list")] == "same-result"  # np.asarray makes float64 of it
    assert outcomes[("x", "strided")] == "same-result"


def test_nan_from_a_tiny_finite_value_is_caught():
    outcomes = _outcomes(toy_tiny_nan, lambda: C(X.copy(), 0.5))
    assert outcomes[("sigma", "tiny")] == "nan-result"
    assert outcomes[("sigma", "huge")] == "accepted"


def test_an_empty_result_from_a_huge_size_is_wrong_shaped():
    outcomes = _outcomes(toy_wraps_around, lambda: C(X.copy(), 4))
    assert outcomes[("n", "huge")] == "wrong-shape"
    assert outcomes[("n", "small-8")] == "accepted"


def test_a_change_to_the_global_random_state_is_caught():
    outcomes = _outcomes(toy_touches_global_state, lambda: C(X.copy()))
    assert outcomes[("-", "valid-call")] == "global-state"
