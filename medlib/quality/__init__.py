"""Image quality and dose across modalities (chapter ``chapters/image-quality/``, chapter 10: the
common language of resolution, noise, detectability and dose that the course adds to the key
formulas).

One module per section notebook: ``resolution`` (PSF, LSF and MTF, the slanted-edge method),
``noise_power`` (the noise power spectrum of white, FBP and denoised images; the detective quantum
efficiency of a detector model; the dose-noise relation), ``detection`` (CNR, the Rose
criterion, model observers' detectability) and ``dose`` (CTDI, DLP and effective dose).

Every public name is re-exported here: ``from medlib import quality; quality.mtf_from_lsf(...)``.
This package is NumPy/SciPy only (the torch boundary: it never imports PyTorch).
"""
from __future__ import annotations

from . import detection, dose, noise_power, resolution
from .detection import *
from .dose import *
from .noise_power import *
from .resolution import *

__all__: list[str] = [*resolution.__all__, *noise_power.__all__, *detection.__all__,
                       *dose.__all__]
