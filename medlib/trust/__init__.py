"""Trustworthy AI for pixel-wise prediction (Part IV, chapter ``chapters/trustworthy/``: the
topics the pixel-wise prediction notes' title promises and the course writes itself).

One module per section notebook: ``interpretability`` (gradient saliency, gradient x input,
Integrated Gradients, Grad-CAM and occlusion for a segmentation network, checked against Captum,
and the sanity checks of Adebayo et al.), ``uncertainty`` (aleatoric and epistemic uncertainty,
Monte Carlo dropout, ensembles, test-time augmentation, calibration checked against torchmetrics,
temperature scaling) and ``data_efficient`` (augmentation, self-supervised pretraining,
semi-supervised learning and transfer with few labels). The models are Part III's
(:class:`medlib.segmentation.UNet`, :class:`medlib.restoration.DnCNN`) trained by the course's own
code (:func:`medlib.nn.fit`); nothing is downloaded.

This package is on the PyTorch side of the torch boundary: importing it without PyTorch raises an
:class:`ImportError` that says how to install it.
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "medlib.trust needs PyTorch. Install it (the CPU build is enough) with the course's "
        "extra, from the repository's root: pip install -c constraints.txt -e \".[dl]\" ; the "
        "rest of medlib works without it") from exc

from . import data_efficient as _data_efficient  # noqa: E402
from . import interpretability as _interpretability  # noqa: E402
from . import uncertainty as _uncertainty  # noqa: E402
from .data_efficient import *  # noqa: E402,F401,F403
from .interpretability import *  # noqa: E402,F401,F403
from .uncertainty import *  # noqa: E402,F401,F403

__all__ = [
    *_interpretability.__all__,
    *_uncertainty.__all__,
    *_data_efficient.__all__,
]
