"""Preprocessing for deep learning (Part II: chapters ``prep-ct-xray``, ``prep-mri`` and
``prep-common``; the seed "5.1 Preprocessing, modality-specific considerations").

NumPy and SciPy only: this package never imports PyTorch, SimpleITK, TorchIO or
``intensity-normalization`` (the notebooks and tests use those as references). One module per
section notebook:

CT and X-ray (``chapters/prep-ct-xray/``)
    why_different, ct_intensities, lung_pipeline, xray_contrast
MRI (``chapters/prep-mri/``)
    bias_field, n4, mri_normalization, multisequence
The common steps (``chapters/prep-common/``)
    physical_resampling, augmentation, pitfalls, validation

Intensity steps that learn from data follow TorchIO's normalisers: fit on training images, apply
to any. Every public name is re-exported here: ``from medlib import prep; prep.window(...)``.
"""
from __future__ import annotations

from . import ct_intensities, lung_pipeline, why_different
from .ct_intensities import *  # noqa: F401,F403
from .lung_pipeline import *  # noqa: F401,F403
from .why_different import *  # noqa: F401,F403

__all__: list[str] = []
__all__ += why_different.__all__ + ct_intensities.__all__ + lung_pipeline.__all__

from . import xray_contrast  # noqa: E402
from .xray_contrast import *  # noqa: E402,F403

__all__ += xray_contrast.__all__
