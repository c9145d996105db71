"""Magnetic resonance (chapter ``chapters/mri/``, sections 4.1 to 4.3 of the key formulas).

One module per section notebook:

* :mod:`~medlib.mri.bloch` (``bloch.ipynb``): gyromagnetic ratios and the Larmor frequency, the
  Bloch simulator and the closed forms it is checked against (inversion recovery, the spoiled
  gradient-echo steady state, the Ernst angle).
* :mod:`~medlib.mri.relaxation` (``relaxation.ipynb``): T1 recovery, T2 decay, the spin-echo
  signal equation, tissue parameters and images synthesised from tissue maps.
* :mod:`~medlib.mri.kspace` (``kspace.ipynb``): the signal equation as a Fourier transform,
  reconstruction, masks, truncation, zero-filling, aliasing and partial Fourier.
* :mod:`~medlib.mri.slice_selection` (``slice-selection.ipynb``, 4.4): sinc pulses, slice
  thickness, the shaped-pulse Bloch simulation over z, the small-tip approximation, rephasing.
* :mod:`~medlib.mri.acceleration` (``acceleration.ipynb``, 4.7): coil sensitivities, multi-coil
  k-space, SENSE and the g-factor, a Haar transform and compressed sensing by FISTA.

Every public name is re-exported here: ``from medlib import mri; mri.bloch_simulate(...)``.
"""
from __future__ import annotations

from . import acceleration, bloch, kspace, relaxation, slice_selection
from .acceleration import *
from .bloch import *
from .kspace import *
from .relaxation import *
from .slice_selection import *

__all__ = bloch.__all__ + relaxation.__all__ + kspace.__all__
__all__ += slice_selection.__all__
__all__ += acceleration.__all__
