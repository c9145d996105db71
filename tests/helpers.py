"""Helpers shared by the test modules (importable by name: ``tests/`` is on pytest's pythonpath).

The fixtures (``assert_inputs_unchanged``, ``rng``) live in ``tests/conftest.py``.
"""
from __future__ import annotations

import numpy as np
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


def rel_rms(a, b) -> float:
    """Root-mean-square difference of ``a`` and ``b`` relative to the RMS of ``b``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2)))


def bloch_rhs(t, m, w, t1, t2, m0):
    """The Bloch equation in the rotating frame, dM/dt = M x (gamma B) - relaxation: the
    independent reference the MRI simulator is tested against (integrated by SciPy).

    ``w`` is gamma B in rad/ms (B1 along x/y, off-resonance field along z).
    """
    dm = np.cross(m, w)
    dm[0] -= m[0] / t2
    dm[1] -= m[1] / t2
    dm[2] -= (m[2] - m0) / t1
    return dm


def integrate_bloch(m, duration_ms, w, t1=np.inf, t2=np.inf, m0=1.0):
    """Magnetisation after ``duration_ms`` of the Bloch equation, by ``scipy.integrate.solve_ivp``
    (DOP853, rtol 1e-12)."""
    from scipy.integrate import solve_ivp

    sol = solve_ivp(bloch_rhs, (0.0, duration_ms), np.asarray(m, float), args=(w, t1, t2, m0),
                    method="DOP853", rtol=1e-12, atol=1e-14)
    return sol.y[:, -1]
