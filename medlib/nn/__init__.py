"""medlib.nn: PyTorch networks, toy tasks and training utilities (the torch boundary).

Everything in ``medlib`` that imports PyTorch lives here or in the Part III/IV packages; the rest
of ``medlib`` works without it. Importing this package without PyTorch raises an
:class:`ImportError` that says how to install it.

Modules:

* :mod:`~medlib.nn.networks`: small networks, :func:`tiny_segmenter` (Part III adds its
  segmentation networks here).
* :mod:`~medlib.nn.toy_tasks`: synthetic tasks with a rare foreground, :func:`lesion_task`.
* :mod:`~medlib.nn.training`: :func:`numpy_loss` (a NumPy loss as a PyTorch loss),
  :func:`train`, :func:`predict`.

Used in ``chapters/dl-formulas/losses.ipynb`` (section 9.2 of the key formulas). Install PyTorch
(the CPU build is enough) with the course's extra::

    pip install -c constraints.txt -e ".[dl]"
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # exercised by tests/medlib/nn/test_torch_boundary.py
    raise ImportError(
        "medlib.nn needs PyTorch. Install it (the CPU build is enough) with the course's extra, "
        "from the repository's root: pip install -c constraints.txt -e \".[dl]\" ; the rest of "
        "medlib works without it") from exc

from . import networks, toy_tasks, training
from .networks import *
from .toy_tasks import *
from .training import *

__all__ = networks.__all__ + toy_tasks.__all__ + training.__all__
