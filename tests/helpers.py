"""Helpers shared by the test modules (importable by name: ``tests/`` is on pytest's pythonpath).

The fixtures (``assert_inputs_unchanged``, ``rng``) live in ``tests/conftest.py``.
"""
from __future__ import annotations

import pytest


def bad_input_test(calls):
    """A test, parametrised over ``calls``, that each bad call raises the right error.

    Parameters
    ----------
    calls : list of tuple
        ``(func, args, kwargs, error, match)``: calling ``func(*args, **kwargs)`` must raise
        ``error`` (``ValueError`` or ``TypeError``) with a message matching the regular expression
        ``match``, which names the caller's argument.

    Returns
    -------
    function
        A pytest test function; assign it to a ``test_...`` name in the test module::

            test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)
    """
    ids = [f"{c[0].__name__}-{i}" for i, c in enumerate(calls)]

    @pytest.mark.parametrize("func, args, kwargs, error, match", calls, ids=ids)
    def test(func, args, kwargs, error, match):
        with pytest.raises(error, match=match):
            func(*args, **kwargs)

    return test
