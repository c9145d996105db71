"""Private helpers shared by :mod:`medlib.pet.forward_model` and :mod:`medlib.pet.mlem_osem`:
validation of the system matrix, of a count vector and of the randoms/scatter background.

No notebook teaches these; they are tested through the public functions that use them.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .._validate import as_array

__all__: list[str] = []


def _as_matrix(A):
    if sparse.issparse(A):
        if np.issubdtype(A.dtype, np.complexfloating):
            raise TypeError(f"A must be real-valued, got a sparse matrix of dtype {A.dtype}")
        if not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
            raise TypeError(f"A must be numeric, got a sparse matrix of dtype {A.dtype}")
        mat = sparse.csr_matrix(A)
    else:
        mat = sparse.csr_matrix(as_array(A, "A", ndim=2))
    if mat.ndim != 2 or min(mat.shape) == 0:
        raise ValueError("A must be a non-empty 2-D matrix")
    if not np.issubdtype(mat.dtype, np.floating):
        mat = mat.astype(np.float64)
    if mat.nnz and (not np.all(np.isfinite(mat.data)) or mat.data.min() < 0):
        raise ValueError("A must have finite, non-negative entries")
    return mat


def _as_counts(y, m: int, name: str = "y") -> np.ndarray:
    arr = as_array(y, name).ravel()
    if arr.size != m:
        raise ValueError(f"{name} must have one value per row of A ({m}), got {arr.size}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (counts cannot be negative)")
    return arr


def _as_background(background, m: int) -> np.ndarray:
    if background is None:
        return np.zeros(m)
    r = as_array(background, "background")
    if r.ndim == 0:
        r = np.full(m, float(r))
    r = r.ravel()
    if r.size != m:
        raise ValueError(f"background must be a scalar or have one value per row of A ({m}), "
                         f"got {r.size}")
    if np.any(r < 0):
        raise ValueError("background must be >= 0")
    return r
