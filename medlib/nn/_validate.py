"""Argument checks of the torch side of ``medlib`` (the NumPy side's are in ``medlib._validate``).

Shared by ``medlib.nn``, ``medlib.segmentation``, ``medlib.restoration`` and ``medlib.trust``, so
that a wrong model or tensor is refused with the same message everywhere.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validate import as_array


def as_module(value, name: str = "model", *, example: str | None = None) -> torch.nn.Module:
    """Return ``value`` if it is a :class:`torch.nn.Module`.

    Raises
    ------
    TypeError
        Naming ``name`` (and an example of what to pass, if given) when it is not.
    """
    if not isinstance(value, torch.nn.Module):
        hint = f" (e.g. {example})" if example else ""
        raise TypeError(f"{name} must be a torch.nn.Module{hint}, got {type(value).__name__}")
    return value


def as_tensor(value, name: str, *, min_ndim: int = 0) -> torch.Tensor:
    """``value`` as a finite, real, floating tensor with at least ``min_ndim`` dimensions.

    A tensor is returned as it is (its graph and dtype kept; integers become float64); anything
    else goes through :func:`medlib._validate.as_array`.

    Raises
    ------
    TypeError
        On complex or boolean values, strings, bytes or None.
    ValueError
        On an empty or non-finite tensor, or fewer than ``min_ndim`` dimensions.
    """
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got a tensor of {value.dtype}")
        t = value if value.is_floating_point() else value.to(torch.float64)
        if t.numel() == 0:
            raise ValueError(f"{name} is empty")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite (no NaN or infinity)")
    else:
        if isinstance(value, (str, bytes)) or value is None:
            raise TypeError(f"{name} must be a tensor or an array of numbers, got {value!r}")
        if np.asarray(value).dtype.kind == "b":
            raise TypeError(f"{name} must hold real numbers, got booleans")
        t = torch.as_tensor(as_array(value, name, real=True))
    if t.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions (N, C, *spatial), "
                         f"got shape {tuple(t.shape)}")
    return t
