"""medlib: the algorithms of the course *Medical Imaging, from Physics to Deep Learning*.

The notebooks of the book narrate, derive and show; ``medlib`` computes. Every algorithm lives
here once, with tests, and every function says in its docstring which formula of the course it
implements (a ``:formula:`id``` tag naming an id of the catalogue ``formulas.tsv``) and where the
book teaches it. ``python tools/formulas.py`` reports how every formula is traced.

Conventions (followed by every module)
--------------------------------------
Arrays
    Axes in NumPy order: a 2D image is ``(row, col)``, a volume ``(z, y, x)`` = ``(slice, row,
    col)``. Spacings are given in mm and in the same order as the axes.
Affines
    A 4x4 (or, in 2D, 3x3) homogeneous matrix maps the indices of the array it belongs to, in the
    order of that array's axes, to world coordinates ``(x, y, z)`` in mm. DICOM's own matrix uses
    the index order ``(i, j, k) = (column, row, slice)`` and the LPS world; NIfTI (as read by
    nibabel) uses the file's ``(i, j, k)`` and the RAS world. :mod:`medlib.geometry` converts.
Angles
    Radians, unless the argument's name ends in ``_deg``.
Units
    SI or the clinical unit named in the argument (``te_ms``, ``b0_t``, ``mu_per_cm``).
Randomness
    Only through an ``rng`` argument: a :class:`numpy.random.Generator` or an integer seed.
Purity
    Functions never modify their inputs; they return new arrays. Bad input raises
    :class:`ValueError` or :class:`TypeError` naming the argument and what is allowed.

Layout: one module per lesson
-----------------------------
A section notebook ``chapters/<chapter>/<section>.ipynb`` runs the code of one module and is
tested by one test module that mirrors it (``chapters/ct/fbp.ipynb`` -> ``medlib/ct/fbp.py`` ->
``tests/medlib/ct/test_fbp.py``). A chapter with several sections is a subpackage whose
``__init__`` re-exports the public names of its modules, so ``from medlib import ct; ct.fbp(...)``
works; ``import medlib; medlib.ct`` imports a subpackage on first use.

Part I, imaging physics and key formulas (NumPy/SciPy only):

geometry, sampling, noise   the foundations (one module per section); phantoms: test objects
ct          attenuation, radon, fbp, hu_windowing
mri         bloch, relaxation, kspace
ultrasound  waves, echoes, bmode
pet         decay, forward_model, mlem_osem            (chapter ``pet-spect``)
xray        projection, flat_field
processing  normalization, filtering, resampling       (chapter ``image-processing``)
dl          convolution, losses, metrics in NumPy     (chapter ``dl-formulas``)

Parts II to IV, where the next chapters land:

prep          Part II, preprocessing for deep learning: NumPy/SciPy (SimpleITK where it is the
              reference), one module per section notebook; never imports PyTorch.
nn            PyTorch: the course's small networks and training utilities (the torch boundary:
              everything that imports torch lives in ``nn`` or in the packages below).
segmentation  Part III, torch: segmentation networks, losses and training, one module per section.
restoration   Part III, torch: restoration networks and losses, one module per section.
trust         Part IV, torch: interpretability, uncertainty, data-efficient learning.

The torch boundary is a package boundary: importing any other part of ``medlib`` never imports
PyTorch; the torch packages raise an :class:`ImportError` that says how to install it.

Infrastructure: ``data`` (the course's real data files, checked against their sha256),
``plotting`` (the course's figure style), ``notebook`` (display helpers such as ``show_source``).
Repository tooling (the formula tracer, the errata page, student copies, the site check) lives in
``tools/``, not here.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public subpackages and modules, imported on first attribute access (``medlib.ct``).
_SUBMODULES = ("ct", "data", "dl", "geometry", "mri", "nn", "noise", "notebook", "pet",
               "phantoms", "plotting", "prep", "processing", "quality", "restoration", "sampling",
               "segmentation", "trust", "ultrasound", "xray")
_TORCH_SUBMODULES = ("nn", "restoration", "segmentation", "trust")

# ``from medlib import *`` stays on this side of the torch boundary.
__all__ = [m for m in _SUBMODULES if m not in _TORCH_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
