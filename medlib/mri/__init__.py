"""Magnetic resonance (chapter ``chapters/mri/``): sections 4.1 to 4.3 follow the key formulas,
4.4 to 4.8 are the course's (how gradients make an image, sequences, acceleration, SNR).

One module per section notebook:

* :mod:`~medlib.mri.bloch` (``bloch.ipynb``, 4.1): gyromagnetic ratios and the Larmor frequency,
  the Bloch simulator and the closed forms it is checked against (inversion recovery, the
  spoiled gradient-echo steady state, the Ernst angle).
* :mod:`~medlib.mri.relaxation` (``relaxation.ipynb``, 4.2): T1 recovery, T2 decay, the
  spin-echo signal equation, tissue parameters and images synthesised from tissue maps.
* :mod:`~medlib.mri.kspace` (``kspace.ipynb``, 4.3): the signal equation as a Fourier
  transform, reconstruction, masks, truncation, zero-filling, aliasing and partial Fourier.
* :mod:`~medlib.mri.slice_selection` (``slice-selection.ipynb``, 4.4): sinc pulses, slice
  thickness, the shaped-pulse Bloch simulation over z, the small-tip approximation, rephasing.
* :mod:`~medlib.mri.encoding` (``encoding.ipynb``, 4.5): gradient waveforms of a Cartesian
  gradient echo, the k-space trajectory they trace, the signal summed over voxels along any
  trajectory, FOV and resolution from the gradients, readout bandwidth and the fat shift.
* :mod:`~medlib.mri.sequences` (``sequences.ipynb``, 4.6): T2* and intra-voxel dephasing (spin
  echo versus gradient echo), FLAIR and STIR images, fast spin echo, EPI (trajectory, N/2
  ghosts, distortion) and balanced SSFP.
* :mod:`~medlib.mri.acceleration` (``acceleration.ipynb``, 4.7): coil sensitivities, multi-coil
  k-space, SENSE and the g-factor, a Haar transform and compressed sensing by FISTA.
* :mod:`~medlib.mri.snr` (``snr.ipynb``, 4.8): SNR against voxel size, sampling time, averages
  and field strength, measured by Monte Carlo through the reconstruction and on a real slice
  (Rician correction); SAR against field strength.

Every public name is re-exported here: ``from medlib import mri; mri.bloch_simulate(...)``.
"""
from __future__ import annotations

from . import acceleration, bloch, encoding, kspace, relaxation, sequences, slice_selection, snr
from .acceleration import *
from .bloch import *
from .encoding import *
from .kspace import *
from .relaxation import *
from .sequences import *
from .slice_selection import *
from .snr import *

__all__ = (bloch.__all__ + relaxation.__all__ + kspace.__all__ + slice_selection.__all__ +
           encoding.__all__ + sequences.__all__ + acceleration.__all__ + snr.__all__)
