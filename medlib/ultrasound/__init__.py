"""Ultrasound (chapter ``chapters/ultrasound/``), one module per section:

* :mod:`~medlib.ultrasound.waves`: speed, frequency and wavelength, the pressure wave, the range
  equation, the tissue table (``waves.ipynb``, section 5.1).
* :mod:`~medlib.ultrasound.echoes`: attenuation in nepers and decibels, the dB/cm/MHz rule,
  impedance, reflection (``echoes.ipynb``, section 5.2).
* :mod:`~medlib.ultrasound.bmode`: pulse-echo simulation, envelope, time-gain compensation, log
  compression, scan conversion, speckle (``bmode.ipynb``, section 5.3).

Every public name is re-exported here: ``from medlib import ultrasound as us; us.wavelength(...)``.
"""
from . import bmode, doppler, echoes, waves
from .bmode import *
from .doppler import *
from .echoes import *
from .waves import *

__all__ = waves.__all__ + echoes.__all__ + bmode.__all__
__all__ += doppler.__all__
