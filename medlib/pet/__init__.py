"""PET and SPECT: radioactive decay, the Poisson forward model, and MLEM/OSEM reconstruction.

One module per section of ``chapters/pet-spect/``:

* :mod:`~medlib.pet.decay`: decay law, half-life, activity, decay correction
  (``decay.ipynb``, 6.1).
* :mod:`~medlib.pet.forward_model`: sparse system matrix, expected counts, Poisson sampling,
  phantoms (``forward-model.ipynb``, 6.2).
* :mod:`~medlib.pet.mlem_osem`: likelihood, MLEM, OSEM (``mlem-osem.ipynb``, 6.3).
* :mod:`~medlib.pet.quantitation`: attenuation from CT, normalisation, randoms, SUV, partial
  volume, resolution modelling, time of flight, MAP-EM (``quantitation.ipynb``, 6.4).
* :mod:`~medlib.pet.spect`: collimator resolution and efficiency, SPECT projector with
  attenuation and depth-dependent resolution (``spect.ipynb``, 6.5).

Every public name is re-exported here: ``from medlib import pet; pet.mlem(...)``. In this
namespace ``pet.decay`` is the function :func:`~medlib.pet.decay.decay`, not the module of the
same name (``sys.modules["medlib.pet.decay"]`` is the module).
"""
from __future__ import annotations

from . import decay as _decay_module
from . import forward_model, mlem_osem, quantitation, spect
from .decay import *  # the function decay wins over the module decay
from .forward_model import *
from .mlem_osem import *
from .quantitation import *
from .spect import *

__all__ = _decay_module.__all__ + forward_model.__all__ + mlem_osem.__all__
__all__ += quantitation.__all__ + spect.__all__
