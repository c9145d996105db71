"""Ultrasound (chapter ``chapters/ultrasound/``), one module per section:

* :mod:`~medlib.ultrasound.waves`: speed, frequency and wavelength, the pressure wave, the range
  equation, the tissue table (``waves.ipynb``, section 5.1).
* :mod:`~medlib.ultrasound.echoes`: attenuation in nepers and decibels, the dB/cm/MHz rule,
  impedance, reflection (``echoes.ipynb``, section 5.2).
* :mod:`~medlib.ultrasound.bmode`: pulse-echo simulation, envelope, time-gain compensation, log
  compression, scan conversion, speckle (``bmode.ipynb``, section 5.3).
* :mod:`~medlib.ultrasound.beamforming`: a linear array's channel data, delay-and-sum with
  transmit focus, dynamic receive focus and apodisation, beam widths, lateral resolution,
  grating lobes, the Fresnel distance (``beamforming.ipynb``, section 5.4).
* :mod:`~medlib.ultrasound.artefacts`: axial resolution from the pulse length, a line model of
  the artefacts (reverberation, shadowing and enhancement, mirror images, speed-of-sound
  errors), the mechanical and thermal indices (``artefacts.ipynb``, section 5.5).
* :mod:`~medlib.ultrasound.doppler`: the Doppler equation, Poiseuille flow, the Nyquist
  velocity, slow-time echoes of moving scatterers, IQ demodulation, the wall filter, the Kasai
  estimator and the pulsed-wave spectrogram (``doppler.ipynb``, section 5.6).

Every public name is re-exported here: ``from medlib import ultrasound as us; us.wavelength(...)``.
"""
from __future__ import annotations

from . import artefacts, beamforming, bmode, doppler, echoes, waves
from .artefacts import *
from .beamforming import *
from .bmode import *
from .doppler import *
from .echoes import *
from .waves import *

__all__ = (waves.__all__ + echoes.__all__ + bmode.__all__ + beamforming.__all__ +
           artefacts.__all__ + doppler.__all__)
