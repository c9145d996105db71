"""Ultrasound (chapter ``chapters/ultrasound/``), one module per section:

* :mod:`~medlib.ultrasound.waves`: speed, frequency and wavelength, the pressure wave, the range
  equation, the tissue table (``waves.ipynb``, section 5.1).
* :mod:`~medlib.ultrasound.echoes`: attenuation in nepers and decibels, the dB/cm/MHz rule,
  impedance, reflection (``echoes.ipynb``, section 5.2).
* :mod:`~medlib.ultrasound.bmode`: pulse-echo simulation, envelope, time-gain compensation, log
  compression, scan conversion, speckle (``bmode.ipynb``, section 5.3).
* :mod:`~medlib.ultrasound.beamforming`: linear-array channel data, transmit delays,
  delay-and-sum with dynamic receive focusing and apodisation, lateral resolution, grating lobes,
  the Fresnel distance (``beamforming.ipynb``, section 5.4).
* :mod:`~medlib.ultrasound.artefacts`: axial resolution, a linear-scan line model, path loss
  (shadowing, enhancement), reverberation, mirror images, speed-of-sound errors, MI and TI
  (``artefacts.ipynb``, section 5.5).

Every public name is re-exported here: ``from medlib import ultrasound as us; us.wavelength(...)``.
"""
from . import artefacts, beamforming, bmode, echoes, waves
from .artefacts import *
from .beamforming import *
from .bmode import *
from .echoes import *
from .waves import *

__all__ = waves.__all__ + echoes.__all__ + bmode.__all__
__all__ += beamforming.__all__
__all__ += artefacts.__all__
