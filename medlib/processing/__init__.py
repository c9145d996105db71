"""Image processing: normalisation and histograms, smoothing and edge filters, resampling.

Chapter ``chapters/image-processing/``, one module per section notebook:

* :mod:`~medlib.processing.normalization` (8.1): min-max and z-score normalisation fitted on
  training data, the histogram, its CDF and histogram equalisation (``normalization.ipynb``).
* :mod:`~medlib.processing.filtering` (8.2): sampled Gaussian kernels, Sobel gradients, the
  Laplacian, sharpening and the noise gain of a filter (``filtering.ipynb``).
* :mod:`~medlib.processing.resampling` (8.3): affine resampling by backward mapping, nearest
  neighbour for label maps, resampling to a new spacing (``resampling.ipynb``).

Every public name is re-exported here: ``from medlib import processing;
processing.gaussian_filter(...)``.
"""
from __future__ import annotations

from . import filtering, normalization, resampling
from .filtering import *
from .normalization import *
from .resampling import *

__all__ = normalization.__all__ + filtering.__all__ + resampling.__all__
