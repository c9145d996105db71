"""Projection radiography: transmission, digitally reconstructed radiographs, the detector's
response, flat-field correction and display.

One module per section of ``chapters/xray/``:

* :mod:`~medlib.xray.projection`: transmission, slab law, DRR (``projection.ipynb``, 7.1).
* :mod:`~medlib.xray.flat_field`: detector model and simulation, flat-field correction,
  display, MONOCHROME1, pixel spacing (``flat-field.ipynb``, 7.2).
* :mod:`~medlib.xray.scatter`: scatter and contrast, anti-scatter grids (contrast improvement,
  Bucky factor), inverse-square law, magnification, focal-spot blur, heel effect
  (``scatter.ipynb``, 7.3).

Every public name is re-exported here: ``from medlib import xray; xray.drr(...)``.
"""
from __future__ import annotations

from . import flat_field, projection, scatter
from .flat_field import *
from .projection import *
from .scatter import *

__all__ = projection.__all__ + flat_field.__all__
__all__ += scatter.__all__
