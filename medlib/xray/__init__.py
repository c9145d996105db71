"""Projection radiography: transmission, digitally reconstructed radiographs, the detector's
response, flat-field correction and display.

One module per section of ``chapters/xray/``:

* :mod:`~medlib.xray.projection`: transmission, slab law, DRR (``projection.ipynb``, 7.1).
* :mod:`~medlib.xray.flat_field`: detector model and simulation, flat-field correction,
  display, MONOCHROME1, pixel spacing (``flat-field.ipynb``, 7.2).

Every public name is re-exported here: ``from medlib import xray; xray.drr(...)``.
"""
from __future__ import annotations

from . import flat_field, projection
from .flat_field import *
from .projection import *

__all__ = projection.__all__ + flat_field.__all__
