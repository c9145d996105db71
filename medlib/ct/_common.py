"""Private helpers shared by the modules of :mod:`medlib.ct` (no notebook teaches them).

``_angles`` checks an array of projection angles; ``_layouts`` names the two ways the projector
(:mod:`medlib.ct.radon`) and the backprojector (:mod:`medlib.ct.fbp`) walk the image.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array


def _angles(theta, name: str = "theta") -> np.ndarray:
    th = np.atleast_1d(as_array(theta, name, ndim=(0, 1)))
    return th


def _layouts(n: int):
    """The two ways of walking the image along its 'major' axis (see radon's Notes)."""
    c = n // 2
    # Layout "x": a = row i (minor coordinate y = c - i), b = column j (s steps as x = j - c).
    # Layout "y": a = column j (minor coordinate x = j - c), b = n - 1 - i (s steps as y).
    return {"x": (c - np.arange(n), c), "y": (np.arange(n) - c, n - 1 - c)}
