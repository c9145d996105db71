"""The shared argument checks: what they accept, what they refuse, and the messages."""
from __future__ import annotations

import numpy as np
import pytest

from medlib._validate import as_array, as_axis, as_bool, as_mask, as_size, check_size


def test_bounds_accept_the_allowed_range_and_keep_the_values():
    x = np.array([0.0, 0.5, 1.0])
    out = as_array(x, "p", low=0, high=1)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("value, kwargs, match", [
    ([-1e-9, 0.5], {"low": 0}, r"p must be >= 0 everywhere, got a minimum of -1e-09"),
    ([0.0, 0.5], {"low": 0, "low_inclusive": False}, r"p must be > 0 everywhere"),
    ([0.5, 1.5], {"high": 1}, r"p must be <= 1 everywhere, got a maximum of 1.5"),
    ([0.5, 1.0], {"high": 1, "high_inclusive": False}, r"p must be < 1 everywhere"),
    ([0.5, np.nan], {"low": 0, "finite": False}, r"p must not contain NaN"),
])
def test_bounds_refuse_values_outside_with_the_argument_name(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        as_array(value, "p", **kwargs)


def test_bounds_on_an_empty_array_are_vacuous():
    assert as_array([], "p", low=0, allow_empty=True).size == 0


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.False_])
def test_as_bool_accepts_python_and_numpy_bools(value):
    assert as_bool(value, "clip") is bool(value)


@pytest.mark.parametrize("value", ["False", "True", 0, 1, 1.0, None, np.array([True])])
def test_as_bool_refuses_truthy_stand_ins(value):
    with pytest.raises(TypeError, match="clip must be True or False"):
        as_bool(value, "clip")


@pytest.mark.parametrize("axis, ndim, expected",
                         [(0, 1, 0), (-1, 3, 2), (2, 3, 2), (np.int64(1), 2, 1)])
def test_as_axis_normalises_like_numpy(axis, ndim, expected):
    assert as_axis(axis, ndim) == expected


@pytest.mark.parametrize("axis, ndim, error, match", [
    (3, 3, ValueError, r"axis must be in \[-3, 2\]"),
    (-4, 3, ValueError, r"axis must be in \[-3, 2\]"),
    (0, 0, ValueError, "scalar"),
    (1.0, 2, TypeError, "axis must be an integer"),
    (True, 2, TypeError, "axis must be an integer"),
    ("0", 2, TypeError, "axis must be an integer"),
])
def test_as_axis_refuses_what_numpy_would_refuse_with_the_argument_name(axis, ndim, error, match):
    with pytest.raises(error, match=match):
        as_axis(axis, ndim)


def test_as_mask_accepts_bools_and_zeros_and_ones_only():
    np.testing.assert_array_equal(as_mask([0.0, 1.0, 1.0], "m"), [False, True, True])
    np.testing.assert_array_equal(as_mask(np.array([True, False]), "m"), [True, False])
    with pytest.raises(ValueError, match="^m must contain only finite"):
        as_mask([np.nan, 1.0], "m")                  # np.asarray(nan, bool) would be True
    with pytest.raises(ValueError, match="^m must be a boolean mask"):
        as_mask([0.5, 1.0], "m")


def test_as_size_bounds_the_elements_with_python_ints():
    assert as_size(2**14, "n", ndim=2) == 2**14
    with pytest.raises(ValueError, match=r"^n asks for an array of shape \(16385, 16385\)"):
        as_size(2**14 + 1, "n", ndim=2)
    with pytest.raises(ValueError, match="^n asks for an array"):
        as_size(2**63, "n")                          # would wrap around in int64
    with pytest.raises(ValueError, match="^n must be >= 2"):
        as_size(1, "n", low=2)
    with pytest.raises(ValueError, match="^shape asks for an array"):
        check_size((2**32, 2**32), "shape")
    check_size((2**14, 2**14), "shape")


def test_real_refuses_complex_even_when_the_dtype_is_kept():
    z = np.array([1.0 + 2.0j, 0.0])
    with pytest.raises(TypeError, match="labels must be real"):
        as_array(z, "labels", dtype=None, real=True)
    assert as_array(z, "kspace", dtype=None).dtype == np.complex128  # real=False keeps it
    ints = np.array([1, 2])
    assert as_array(ints, "labels", dtype=None, real=True).dtype == ints.dtype
    with pytest.raises(TypeError, match="mask must be real"):
        as_mask(np.array([1.0 + 0.0j, 0.0]), "mask")


def test_as_shape_checks_each_entry_the_length_and_the_size():
    from medlib._validate import as_shape
    assert as_shape((4, np.int64(5)), "shape", ndim=2) == (4, 5)
    with pytest.raises(TypeError, match="^shape must be a sequence of 2 integers"):
        as_shape(None, "shape", ndim=2)
    with pytest.raises(ValueError, match="^shape must be a sequence of 2 integers"):
        as_shape((4, 5, 6), "shape", ndim=2)
    with pytest.raises(ValueError, match="^shape must be a sequence of integers"):
        as_shape((), "shape")
    with pytest.raises(ValueError, match="^shape asks for an array"):
        as_shape((2 ** 63, 1), "shape")
    with pytest.raises(TypeError, match="^shape must be an integer"):
        as_shape((2.5, 1), "shape")


def test_as_spacing_repeats_a_scalar_and_names_the_argument():
    from medlib._validate import as_spacing

    np.testing.assert_array_equal(as_spacing(2, "spacing_mm", 3), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(as_spacing([1, 0.5], "s", 2), [1.0, 0.5])
    for bad in (0.0, -1.0, 1e-9, 1e9, np.nan, [1.0, 2.0, 3.0]):
        with pytest.raises(ValueError, match="out_spacing_mm"):
            as_spacing(bad, "out_spacing_mm", 2)
