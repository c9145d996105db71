"""medlib.dl: the deep-learning formulas of Part I in NumPy (chapter ``dl-formulas``).

Modules:

* :mod:`~medlib.dl.convolution`: convolutional layers from their formula, :func:`conv2d`,
  :func:`conv3d`, :func:`conv_layer`, :func:`output_size` (section 9.1).
* :mod:`~medlib.dl.losses`: Dice, cross-entropy and focal losses and their gradients
  (section 9.2).
* :mod:`~medlib.dl.metrics`: overlap metrics and the confusion matrix (section 9.3).

Every public name is re-exported (``dl.conv2d``, ``dl.focal_loss``; the three modules share no
name, a test checks it); the notebooks use the losses and metrics through their submodules,
``from medlib.dl import losses, metrics``. None of them imports PyTorch (the networks live in
:mod:`medlib.nn`).
"""
from __future__ import annotations

from . import convolution, losses, metrics
from .convolution import *
from .losses import *
from .metrics import *

__all__ = convolution.__all__ + losses.__all__ + metrics.__all__
