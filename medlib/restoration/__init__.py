"""Restoration with PyTorch (Part III, chapter ``chapters/restoration/``; the restoration half of
the pixel-wise prediction notes).

One module per section notebook: ``degradations`` (where restoration data comes from: low-dose
CT simulated from real slices, undersampled MR), ``metrics`` (MAE, MSE, NMSE, PSNR, SSIM, checked
against scikit-image), ``denoising`` (a small CNN denoiser against the classical denoisers) and
``perceptual`` (perceptual and adversarial losses). Small networks, seeded and deterministic on
the CPU.

This package is on the PyTorch side of the torch boundary: importing it without PyTorch raises an
:class:`ImportError` that says how to install it.
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "medlib.restoration needs PyTorch. Install it (the CPU build is enough) with the course's "
        "extra, from the repository's root: pip install -c constraints.txt -e \".[dl]\" ; the "
        "rest of medlib works without it") from exc

from . import degradations as _degradations  # noqa: E402
from . import denoising as _denoising  # noqa: E402
from . import metrics as _metrics  # noqa: E402
from . import perceptual as _perceptual  # noqa: E402
from .degradations import *  # noqa: E402,F401,F403
from .denoising import *  # noqa: E402,F401,F403
from .metrics import *  # noqa: E402,F401,F403
from .perceptual import *  # noqa: E402,F401,F403

__all__ = [
    *_degradations.__all__,
    *_metrics.__all__,
    *_denoising.__all__,
    *_perceptual.__all__,
]
