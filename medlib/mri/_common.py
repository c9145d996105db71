"""Private argument helpers shared by :mod:`medlib.mri.bloch` and :mod:`medlib.mri.relaxation`
(relaxation times, non-negative times, broadcasting, scalar results, TE <= TR). No notebook."""
from __future__ import annotations

import numpy as np

from .._validate import as_array


def _relaxation_times(value, name: str) -> np.ndarray:
    """T1 or T2 in ms: > 0, infinity allowed (no relaxation), NaN refused."""
    arr = as_array(value, name, finite=False)
    if np.any(np.isnan(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 ms (infinity means no relaxation)")
    return arr


def _times(value, name: str) -> np.ndarray:
    arr = as_array(value, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 ms")
    return arr


def _broadcast(**arrays) -> list[np.ndarray]:
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"array arguments must have broadcastable shapes, got {shapes}") \
            from None


def _result(x: np.ndarray):
    return float(x) if x.ndim == 0 else x


def _check_te_tr(te: np.ndarray, tr: np.ndarray, what: str) -> None:
    if np.any(te > tr):
        raise ValueError(f"te_ms must not exceed tr_ms: {what} assumes the echo is read before "
                         "the next excitation")
