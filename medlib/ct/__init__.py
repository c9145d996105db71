"""Computed tomography (chapter ``chapters/ct/``: sections 3.1 to 3.4 of the key formulas, and
the course's sections 3.5 and 3.6 on the polychromatic beam and the fan-beam geometry).

One module per section notebook:

* :mod:`~medlib.ct.attenuation` (``attenuation.ipynb``): NIST attenuation coefficients, the
  Lambert-Beer law, line integrals, the log transform and its Poisson noise, and the thorax
  phantom with realistic attenuation.
* :mod:`~medlib.ct.radon` (``radon.ipynb``): the geometry convention (scikit-image's, angles in
  radians), the parallel-beam projector and the exact transform of ellipses.
* :mod:`~medlib.ct.fbp` (``fbp.ipynb``): the ramp filter and its windows, backprojection and
  filtered backprojection.
* :mod:`~medlib.ct.hu_windowing` (``hu-windowing.ipynb``): Hounsfield units, DICOM's rescale
  and the display windows.
* :mod:`~medlib.ct.polychromatic` (``polychromatic.ipynb``): the tube spectrum and its
  filtration, half-value layer and effective energy, beam hardening and the water correction.
* :mod:`~medlib.ct.fan_beam` (``fan-beam.ipynb``): equiangular fan-beam projections, rebinning,
  direct fan-beam FBP, the short scan with Parker weights, helical pitch and cone angle.

Every public name is re-exported here: ``from medlib import ct; ct.fbp(...)``. Where a function
has the name of its module (``ct.radon``, ``ct.fbp``), the package attribute is the function;
the module is ``sys.modules["medlib.ct.fbp"]`` (``from medlib.ct.fbp import backproject``
works as usual).
"""
from __future__ import annotations

from . import attenuation, fan_beam, hu_windowing, polychromatic
from . import fbp as _fbp_module
from . import radon as _radon_module
from .attenuation import *  # noqa: F401,F403
from .fan_beam import *  # noqa: F401,F403
from .fbp import *  # noqa: F401,F403
from .hu_windowing import *  # noqa: F401,F403
from .polychromatic import *  # noqa: F401,F403
from .radon import *  # noqa: F401,F403

__all__ = attenuation.__all__ + _radon_module.__all__ + _fbp_module.__all__ + hu_windowing.__all__
__all__ += polychromatic.__all__ + fan_beam.__all__
