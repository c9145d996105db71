"""Argument checks shared by every medlib module.

Each helper raises :class:`ValueError` or :class:`TypeError` with the argument's name and what is
allowed, so a user learns what to fix. None of them modifies its input.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np


def as_array(
    value,
    name: str,
    *,
    ndim: int | Iterable[int] | None = None,
    shape: tuple[int | None, ...] | None = None,
    dtype=np.float64,
    finite: bool = True,
    allow_empty: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    real: bool = False,
) -> np.ndarray:
    """Return ``value`` as an array of ``dtype`` after checking it.

    Parameters
    ----------
    value : array_like
        The argument to check.
    name : str
        The argument's name, used in error messages.
    ndim : int or iterable of int, optional
        Allowed numbers of dimensions.
    shape : tuple of int or None, optional
        Required shape; ``None`` entries match any length.
    dtype : numpy dtype, optional
        Target dtype (default float64); ``complex`` keeps complex input.
    finite : bool, optional
        Reject NaN and infinity (default True).
    allow_empty : bool, optional
        Accept arrays with no elements (default False).
    low, high : float, optional
        Bounds every element must respect (NaN never does); ``low_inclusive`` and
        ``high_inclusive`` say whether equality is allowed (default True).
    real : bool, optional
        Refuse complex input even when ``dtype=None`` keeps the input's dtype (labels, masks,
        grey levels: integer-valued data that has no imaginary part). A real ``dtype`` always
        refuses complex input.

    Returns
    -------
    numpy.ndarray
        A (possibly shared, never modified here) array view or copy of ``value``.

    Raises
    ------
    TypeError
        If ``value`` cannot be converted to a numeric array, or is complex where a real array
        is required.
    ValueError
        If the dimensions, shape, size or finiteness are wrong, or an element lies outside
        ``[low, high]``.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds here
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if real and np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if dtype is not None:
        if np.issubdtype(arr.dtype, np.complexfloating) and not np.issubdtype(
            np.dtype(dtype), np.complexfloating
        ):
            raise TypeError(f"{name} must be real-valued, got dtype {arr.dtype}")
        arr = arr.astype(dtype, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(
            s is not None and s != a for s, a in zip(shape, arr.shape)
        ):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or infinity)")
    if (low is not None or high is not None) and arr.size:
        _check_bounds(arr, name, low, high, low_inclusive, high_inclusive)
    return arr


def _check_bounds(arr: np.ndarray, name: str, low, high, low_inclusive: bool,
                  high_inclusive: bool) -> None:
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real-valued to be compared with bounds")
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    if low is not None:
        bad = arr < low if low_inclusive else arr <= low
        if bad.any():
            op = ">=" if low_inclusive else ">"
            raise ValueError(f"{name} must be {op} {low} everywhere, got a minimum of {arr.min()}")
    if high is not None:
        bad = arr > high if high_inclusive else arr >= high
        if bad.any():
            op = "<=" if high_inclusive else "<"
            raise ValueError(f"{name} must be {op} {high} everywhere, got a maximum of {arr.max()}")


def as_scalar(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float within ``[low, high]`` (bounds optional).

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is not finite or lies outside the allowed range.
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if isinstance(value, np.ndarray):
        if value.ndim != 0 or not np.issubdtype(value.dtype, np.number):
            raise TypeError(f"{name} must be a real number, got an array of shape {value.shape}")
        value = value.item()
    x = float(value)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if low is not None and (x < low or (x == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {x}")
    if high is not None and (x > high or (x == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {op} {high}, got {x}")
    return x


def as_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int within ``[low, high]``; floats with a fraction are refused.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``True``/``False`` and 2.5 are refused; 2.0 is accepted).
    ValueError
        If it lies outside the allowed range.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    if isinstance(value, numbers.Integral):
        n = int(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        n = int(value)
    else:
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if low is not None and n < low:
        raise ValueError(f"{name} must be >= {low}, got {n}")
    if high is not None and n > high:
        raise ValueError(f"{name} must be <= {high}, got {n}")
    return n


MAX_ELEMENTS = 2 ** 28   # largest array a size argument may ask for: 2 GiB of float64


def as_size(value, name: str, *, low: int = 1, ndim: int = 1,
            max_elements: int = MAX_ELEMENTS) -> int:
    """Return ``value`` as an int >= ``low`` that sizes ``ndim`` axes of a result.

    The result then has ``value ** ndim`` elements; more than ``max_elements`` (default 2**28,
    2 GiB of float64) is refused before anything is allocated, so a typo such as 2**63 fails
    with a named error instead of an empty array or a memory error.

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it is below ``low`` or the result would be too large.
    """
    n = as_int(value, name, low=low)
    check_size((n,) * ndim, name, max_elements=max_elements)
    return n


def check_size(shape, name: str, *, max_elements: int = MAX_ELEMENTS) -> None:
    """Raise a ValueError naming ``name`` if an array of ``shape`` would exceed ``max_elements``.

    The product is taken with Python ints, so it never wraps around.
    """
    total = 1
    for s in shape:
        total *= int(s)
    if total > max_elements:
        raise ValueError(f"{name} asks for an array of shape {tuple(int(s) for s in shape)} "
                         f"({float(total):.3g} elements), more than the limit of {max_elements} "
                         "(2 GiB of float64)")


def as_shape(value, name: str, *, ndim: int | None = None, low: int = 1,
             max_elements: int = MAX_ELEMENTS) -> tuple[int, ...]:
    """Return ``value`` as the shape of a result: a tuple of ints >= ``low``.

    A sequence of ``ndim`` integers (any number when ``ndim`` is None, at least one) whose
    product is at most ``max_elements``, checked with Python ints before anything is allocated.

    Raises
    ------
    TypeError
        If ``value`` is not a sequence of integers (None, a string, a scalar, 2.5).
    ValueError
        If it has the wrong number of entries, an entry below ``low``, or too many elements.
    """
    want = "a sequence of integers" if ndim is None else f"a sequence of {ndim} integers"
    if isinstance(value, (str, bytes)) or np.ndim(value) != 1:
        raise TypeError(f"{name} must be {want}, got {value!r}")
    shape = tuple(as_int(v, name, low=low) for v in value)
    if (ndim is None and not shape) or (ndim is not None and len(shape) != ndim):
        raise ValueError(f"{name} must be {want}, got {len(shape)} entries: {shape}")
    check_size(shape, name, max_elements=max_elements)
    return shape


def as_spacing(value, name: str, ndim: int) -> np.ndarray:
    """A voxel spacing in mm: one positive number for every axis, or one per axis.

    Returns a float64 array of ``ndim`` values in [1e-6, 1e6] mm; a scalar is repeated. Raises
    ValueError naming ``name`` otherwise (a spacing in metres or micrometres is a unit mistake).
    """
    s = as_array(value, name, ndim=(0, 1), low=1e-6, high=1e6)
    s = np.full(ndim, float(s)) if s.ndim == 0 else s.astype(np.float64)
    if s.shape != (ndim,):
        raise ValueError(f"{name} must hold one value or {ndim} values (one per axis of the "
                         f"array), got {s.tolist()}")
    return s


def as_mask(value, name: str) -> np.ndarray:
    """Return ``value`` as a boolean mask: a bool array, or numbers that are all 0 or 1.

    NaN is refused (``np.asarray(nan, bool)`` would be True), and so is any other number.

    Raises
    ------
    TypeError
        If ``value`` is not a numeric array.
    ValueError
        If it is empty, holds NaN or infinity, or a value other than 0 and 1.
    """
    a = as_array(value, name, dtype=None, real=True)
    if a.dtype == bool:
        return a
    if np.count_nonzero((a == 0) | (a == 1)) != a.size:
        raise ValueError(f"{name} must be a boolean mask (bool, or 0 and 1 only), got other "
                         "values")
    return a != 0


def as_array_and_coords(array, coords, *, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Check an array and the fractional indices ``coords`` (shape ``(array.ndim, ...)``) at
    which it is to be interpolated; the arguments are named ``array`` and ``coords``.

    Raises
    ------
    ValueError
        If ``array`` is a scalar or ``coords`` has not one row per axis of ``array``.
    """
    a = as_array(array, "array", dtype=dtype)
    if a.ndim == 0:
        raise ValueError("array must have at least one dimension, got a scalar")
    c = as_array(coords, "coords", allow_empty=True)
    if c.ndim < 1 or c.shape[0] != a.ndim:
        raise ValueError(f"coords must have shape ({a.ndim}, ...) for a {a.ndim}D array, "
                         f"got {c.shape}")
    return a, c


def as_bool(value, name: str) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (Python or NumPy bool), else raise.

    A flag given as a string (``"False"``) or a number is refused rather than read as truthy.

    Raises
    ------
    TypeError
        If ``value`` is not a bool.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def as_axis(axis, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` as a non-negative axis index of an array with ``ndim`` dimensions.

    Negative axes count from the end, as in NumPy.

    Raises
    ------
    TypeError
        If ``axis`` is not an integer.
    ValueError
        If the array has no axes or ``axis`` is outside ``[-ndim, ndim)``.
    """
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {axis!r}")
    if ndim < 1:
        raise ValueError(f"{name}: the input has no axes (it is a scalar)")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} must be in [{-ndim}, {ndim - 1}] for an input with {ndim} "
                         f"dimensions, got {axis}")
    return int(axis) % ndim


def as_choice(value, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (case-sensitive), else raise ValueError."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` from a Generator or a non-negative integer seed.

    Raises
    ------
    TypeError
        If ``rng`` is neither (``None`` is refused on purpose: every result must be reproducible).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator or a non-negative integer seed, "
        f"got {type(rng).__name__}"
    )


def check_broadcast(**arrays) -> tuple[int, ...]:
    """Return the broadcast shape of the named arrays, or raise a ValueError naming them.

    Raises
    ------
    ValueError
        If the shapes cannot be broadcast together.
    """
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {np.shape(a)}" for name, a in arrays.items())
        raise ValueError(f"{' and '.join(arrays)} must have broadcastable shapes, got {shapes}") \
            from None
