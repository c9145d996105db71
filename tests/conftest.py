"""Shared helpers for medlib's tests."""
from __future__ import annotations

import copy

import numpy as np
import pytest


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(
            a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.fixture
def one_torch_thread():
    """One PyTorch thread for the test, then the caller's count back: steadier and much faster
    on a shared machine (TOOLCHAIN.md). Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch  # only the torch-side test modules ask for this fixture

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def assert_inputs_unchanged():
    """Call ``func(*args, **kwargs)`` and fail if it modified any argument; return its result."""

    def check(func, *args, **kwargs):
        before = [_snapshot(a) for a in args], {k: _snapshot(v) for k, v in kwargs.items()}
        result = func(*args, **kwargs)
        for i, (old, new) in enumerate(zip(before[0], args)):
            assert _same(old, new), f"{func.__name__} modified positional argument {i}"
        for k, old in before[1].items():
            assert _same(old, kwargs[k]), f"{func.__name__} modified argument {k!r}"
        return result

    return check


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
