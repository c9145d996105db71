"""Small networks that train in seconds on a CPU.

Used in ``chapters/dl-formulas/losses.ipynb`` (section 9.2 of the key formulas), where
:func:`tiny_segmenter` is trained with each loss. The segmentation networks of Part III
(U-Nets and their building blocks) belong beside it.
"""
from __future__ import annotations

import torch

from .._validate import as_int, check_size

__all__ = ["tiny_segmenter"]


def tiny_segmenter(channels: int = 8, *, seed: int = 0) -> torch.nn.Module:
    """A three-layer fully convolutional network for one-channel 2D images.

    Parameters
    ----------
    channels : int, optional
        Feature channels of the two hidden layers (default 8).
    seed : int, optional
        Seed of the initial weights, so that runs reproduce. The weights are drawn under
        :func:`torch.random.fork_rng`: PyTorch's global random state is left as it was.

    Returns
    -------
    torch.nn.Module
        conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> conv 1x1, zero padding: input (N, 1, H, W),
        output logits (N, 1, H, W); receptive field 5 x 5 pixels; a few hundred parameters.
    """
    c = as_int(channels, "channels", low=1)
    check_size((c, c, 3, 3), "channels")          # the middle layer's weights: c^2 3x3 kernels
    s = as_int(seed, "seed", low=0)
    with torch.random.fork_rng(devices=[]):      # a local stream; the caller's state is restored
        torch.manual_seed(s)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, c, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(c, 1, 1),
        )
