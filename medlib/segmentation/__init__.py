"""Segmentation with PyTorch (Part III, chapter ``chapters/segmentation/``; the segmentation half
of the pixel-wise prediction notes).

One module per section notebook: ``datasets`` (data for segmentation: real images with real
labels, patient-level splits, annotators and STAPLE, domain shift), ``losses`` (pixel-wise
cross-entropy and soft Dice losses, checked against PyTorch and MONAI) and ``architectures``
(naive encoder-upsample, FCN, UNet; receptive fields). Small networks, seeded and deterministic
on the CPU.

This package is on the PyTorch side of the torch boundary: importing it without PyTorch raises an
:class:`ImportError` that says how to install it.
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "medlib.segmentation needs PyTorch. Install it (the CPU build is enough) with the course's "
        "extra, from the repository's root: pip install -c constraints.txt -e \".[dl]\" ; the "
        "rest of medlib works without it") from exc

from . import architectures as _architectures  # noqa: E402
from . import datasets as _datasets  # noqa: E402
from . import losses as _losses  # noqa: E402
from .architectures import *  # noqa: E402,F401,F403
from .datasets import *  # noqa: E402,F401,F403
from .losses import *  # noqa: E402,F401,F403

__all__ = [
    *_datasets.__all__,
    *_losses.__all__,
    *_architectures.__all__,
]
