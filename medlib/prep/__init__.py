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

from . import augmentation as _augmentation
from . import bias_field as _bias_field
from . import mri_normalization as _mri_normalization
from . import multisequence as _multisequence
from . import n4 as _n4
from . import physical_resampling as _physical_resampling
from . import pitfalls as _pitfalls
from . import validation as _validation
from . import xray_contrast as _xray_contrast
from .augmentation import *  # noqa: F401,F403
from .bias_field import *  # noqa: F401,F403
from .mri_normalization import *  # noqa: F401,F403
from .multisequence import *  # noqa: F401,F403
from .n4 import *  # noqa: F401,F403
from .physical_resampling import *  # noqa: F401,F403
from .pitfalls import *  # noqa: F401,F403
from .validation import *  # noqa: F401,F403
from .xray_contrast import *  # noqa: F401,F403

__all__ = [
    *_xray_contrast.__all__,
    *_bias_field.__all__,
    *_n4.__all__,
    *_mri_normalization.__all__,
    *_multisequence.__all__,
    *_physical_resampling.__all__,
    *_augmentation.__all__,
    *_pitfalls.__all__,
    *_validation.__all__,
]
